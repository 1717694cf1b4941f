/**
 * The one place where error codes become HTTP answers: the status of each code. Bodies are FHIR
 * OperationOutcome resources built by `fhir/operation-outcome.ts` (as JP Core / FHIR servers answer),
 * carrying our code and a Japanese text; never a stack trace, never request data.
 */
import type { FastifyError } from "fastify";
import { isCodedError } from "../coded-error.js";
import {
  operationOutcome as outcome,
  type IssueType,
  type OperationOutcome,
  type OutcomeExtension,
} from "../fhir/operation-outcome.js";
import type { FhirErrorCode } from "../fhir/errors.js";
import type { ServiceErrorCode } from "../service/errors.js";

const STATUS: Readonly<Record<ServiceErrorCode | FhirErrorCode, readonly [number, IssueType]>> = {
  SERVICE_DB_UNUSABLE: [503, "exception"],
  SERVICE_DATA_DIR_EXISTS: [500, "exception"],
  SERVICE_DATA_DIR_UNUSABLE: [503, "exception"],
  SERVICE_CONFIG_INVALID: [500, "exception"],
  AUTH_REQUIRED: [401, "login"],
  AUTH_FAILED: [401, "login"],
  AUTH_LOCKED: [423, "security"],
  AUTH_ACCOUNT_DISABLED: [403, "security"],
  AUTH_CERTIFICATE_MISMATCH: [403, "security"],
  AUTH_CERTIFICATE_REVOKED: [403, "security"],
  AUTH_PASSWORD_CHANGE_REQUIRED: [403, "business-rule"],
  AUTH_SESSION_EXPIRED: [401, "login"],
  AUTH_CSRF_INVALID: [403, "security"],
  AUTH_FORBIDDEN: [403, "forbidden"],
  PASSWORD_POLICY: [422, "business-rule"],
  PASSWORD_WRONG: [422, "security"],
  // 428 Precondition Required: a distinct answer the UI turns into the "register this device" dialog.
  DEVICE_NOT_REGISTERED: [428, "security"],
  DEVICE_CONFIRMATION_REQUIRED: [409, "business-rule"],
  DEVICE_SIGNATURE_MALFORMED: [400, "security"],
  DEVICE_SIGNATURE_INVALID: [401, "security"],
  DEVICE_SIGNATURE_STALE: [401, "security"],
  DEVICE_SIGNATURE_REPLAYED: [409, "security"],
  DEVICE_KEY_INVALID: [400, "invalid"],
  // The device a request is signed with cannot remove itself (it would lock the person out mid-step).
  DEVICE_IN_USE: [409, "business-rule"],
  INSTITUTION_INVALID: [400, "invalid"],
  INSTITUTION_EXISTS: [409, "conflict"],
  ACCOUNT_EXISTS: [409, "conflict"],
  MAPPING_REQUIRED: [409, "business-rule"],
  MAPPING_INVALID: [422, "invalid"],
  LINK_INVALID: [400, "invalid"],
  NOT_FOUND: [404, "not-found"],
  SERVICE_BUSY: [503, "throttled"],
  ENVELOPE_INVALID: [400, "security"],
  ENVELOPE_CHANNEL_INVALID: [409, "security"],
  UPLOAD_TOO_LARGE: [413, "too-long"],
  UPLOAD_UNUSABLE: [422, "invalid"],
  UPLOAD_INTERRUPTED: [400, "invalid"],
  RECEIVER_NOT_LINKED: [422, "business-rule"],
  TRANSFER_STATE: [409, "business-rule"],
  // The ledger segment an operation relies on failed verification: refuse, never serve unverified.
  INTEGRITY_FAILURE: [503, "exception"],
  STATE_COMMAND_UNKNOWN: [500, "exception"],
  STATE_COMMAND_UNSUPPORTED: [500, "exception"],
  // Bad on every copy: gone for good (the sender must send it again), not a retryable failure.
  TRANSFER_DAMAGED: [410, "exception"],
  // One chunk is being fetched again from a peer (the node serves everything else): retryable.
  TRANSFER_REPAIRING: [503, "exception"],
  TRANSFER_DAMAGE_KNOWN: [409, "conflict"],
  BACKUP_INVALID: [400, "invalid"],
  REBUILD_INVALID: [400, "invalid"],
  REQUEST_INVALID: [400, "invalid"],
  SIGNATURE_INVALID: [422, "invalid"],
  FHIR_SEARCH_INVALID: [400, "invalid"],
  FHIR_FORMAT_UNSUPPORTED: [406, "not-supported"],
  // N1: FHIR input with script, event attributes, javascript: URLs or external references.
  FHIR_INPUT_UNSAFE: [400, "security"],
  FHIR_INPUT_INVALID: [400, "invalid"],
};

/** Codes of the HTTP layer itself (malformed requests before any service code runs). */
export type HttpErrorCode =
  "REQUEST_TOO_LARGE" | "REQUEST_MEDIA_TYPE" | "REQUEST_MALFORMED" | "ROUTE_NOT_FOUND" | "INTERNAL";

/**
 * Facts a UI needs besides the text (how many login attempts are left, until when an ID is locked), as
 * FHIR extensions on the issue. Only these named, numeric context values ever leave the server.
 */
export const EXTENSION_BASE = "urn:kenshin-exchange:outcome:";
const EXPOSED_CONTEXT = ["attemptsLeft", "lockedUntil"] as const;

function exposedContext(context: unknown): OutcomeExtension[] {
  const c = (context ?? {}) as Record<string, unknown>;
  const out: OutcomeExtension[] = [];
  for (const name of EXPOSED_CONTEXT) {
    const v = c[name];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) continue;
    out.push(
      name === "lockedUntil"
        ? { url: `${EXTENSION_BASE}${name}`, valueInstant: new Date(v).toISOString() }
        : { url: `${EXTENSION_BASE}${name}`, valueInteger: v },
    );
  }
  return out;
}

/**
 * Codes of lower layers that reach the server: a key rotation in progress on the node's console is a
 * moment to retry, not a server fault.
 */
const RETRY_LATER: ReadonlySet<string> = new Set([
  "DATA_KEY_KEK_ROTATING",
  "DATA_KEY_KEK_STALE",
  "PAYLOAD_KEK_MISMATCH",
  "CLUSTER_KEK_STALE",
  // The external time-stamp authority did not answer, or answered with a token that does not verify
  // (another request's nonce, another imprint, an untrusted TSA): the send was refused, nothing changed.
  "CRYPTO_TSA_UNAVAILABLE",
  "CRYPTO_TIMESTAMP_INVALID",
]);

/**
 * Codes of the cluster that reach users with their own code: without a majority of online nodes a state
 * change is refused (read-only mode, cluster/quorum-guard.ts), and the client may retry later.
 */
const CLUSTER_STATUS: Readonly<Record<string, readonly [number, IssueType]>> = {
  CLUSTER_NO_QUORUM: [503, "throttled"],
  // The cluster could not say whether a state change was ordered (etcd unreachable mid-call): retry later.
  CLUSTER_UNAVAILABLE: [503, "exception"],
};

/** Status and body for anything a handler threw. Unknown errors become a generic 500. */
export function toHttpError(error: unknown): { status: number; body: OperationOutcome; internal: boolean } {
  if (isCodedError(error) && error.code in STATUS) {
    const [status, type] = STATUS[error.code as ServiceErrorCode | FhirErrorCode];
    const body = outcome(error.code, type, error.message);
    const extension = exposedContext(error.context);
    return {
      status,
      body: extension.length === 0 ? body : { ...body, issue: body.issue.map((i) => ({ ...i, extension })) },
      internal: status >= 500,
    };
  }
  const cluster = isCodedError(error) ? CLUSTER_STATUS[error.code] : undefined;
  if (isCodedError(error) && cluster !== undefined) {
    // Expected while two nodes are down: not a server fault, so not logged as one.
    return { status: cluster[0], body: outcome(error.code, cluster[1], error.message), internal: false };
  }
  if (isCodedError(error) && RETRY_LATER.has(error.code)) {
    return {
      status: 503,
      body: outcome(
        "SERVICE_BUSY",
        "throttled",
        error.code === "CRYPTO_TSA_UNAVAILABLE"
          ? "時刻認証局に接続できません。しばらくしてから再度お試しください"
          : error.code === "CRYPTO_TIMESTAMP_INVALID"
            ? "時刻認証局の応答を検証できませんでした。しばらくしてから再度お試しください"
            : "鍵の更新中です。しばらくしてから再度お試しください",
      ),
      internal: false,
    };
  }
  const fe = error as Partial<FastifyError>;
  if (fe.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    return {
      status: 413,
      body: outcome("REQUEST_TOO_LARGE", "too-long", "送信されたデータが大きすぎます"),
      internal: false,
    };
  }
  if (fe.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || fe.code === "FST_ERR_CTP_INVALID_CONTENT_LENGTH") {
    return {
      status: 415,
      body: outcome("REQUEST_MEDIA_TYPE", "invalid", "このデータ形式は受け付けていません"),
      internal: false,
    };
  }
  if (
    fe.code === "FST_ERR_CTP_EMPTY_JSON_BODY" ||
    fe.code === "FST_ERR_CTP_INVALID_JSON_BODY" ||
    fe.code === "FST_ERR_VALIDATION" ||
    (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500)
  ) {
    return {
      status: 400,
      body: outcome("REQUEST_MALFORMED", "invalid", "要求の形式が正しくありません"),
      internal: false,
    };
  }
  return {
    status: 500,
    body: outcome("INTERNAL", "exception", "サーバーで問題が発生しました。時間をおいて再度お試しください"),
    internal: true,
  };
}
