/**
 * The browser's API client: same-origin fetch (the session cookie is HttpOnly and sent by the browser),
 * the CSRF token on every state change, and every state-changing request signed with the device key
 * (src/client/request-signing.ts, the code the CLI and the server's tests use). Uploads and downloads
 * go through XMLHttpRequest for progress events. Error answers become an ApiFailure carrying the
 * OperationOutcome's code and Japanese text — only once a request refused by a node that did nothing
 * with it (stopped serving, or met damage to its own copy) has been sent again a few times
 * (`withAttempts`): in a cluster a later attempt reaches a healthy node.
 */
import {
  pauseBeforeNextAttempt,
  unprocessedRefusal,
  type UnprocessedRefusal,
} from "../../src/client/refused-unprocessed.js";
import { DEVICE_SIGNATURE_HEADER, signRequest } from "../../src/client/request-signing.js";

export interface ApiError {
  readonly status: number;
  /** Our code (issue[0].details.coding[0].code), or NETWORK / HTTP_<status>. */
  readonly code: string;
  /** The server's Japanese text, when it sent one. */
  readonly text: string;
  /** Login attempts left before a lock-out, when the server says (the last one is warned of). */
  readonly attemptsLeft?: number;
  /** Until when the ID is locked (ISO), for AUTH_LOCKED. */
  readonly lockedUntil?: string;
}

const EXTENSION_BASE = "urn:kenshin-exchange:outcome:";

export class ApiFailure extends Error {
  constructor(readonly error: ApiError) {
    super(error.code);
    this.name = "ApiFailure";
  }
}

/** The device key a request is signed with. */
export interface DeviceCredential {
  readonly privateKey: CryptoKey;
  readonly deviceId: string;
}

export interface ApiOptions {
  /** Called when a request fails for a reason the whole app reacts to (expired session…). */
  readonly onAuthProblem: (error: ApiError) => void;
}

const AUTH_PROBLEMS = new Set([
  "AUTH_REQUIRED",
  "AUTH_SESSION_EXPIRED",
  "AUTH_PASSWORD_CHANGE_REQUIRED",
  "DEVICE_NOT_REGISTERED",
]);

export interface TransferProgress {
  readonly loaded: number;
  readonly total: number | undefined;
}

export interface XhrRequest {
  readonly method: "POST";
  readonly path: string;
  /** The body: bytes, or a Blob (a large sealed upload, built chunk by chunk) with its digest. */
  readonly body?: Uint8Array | Blob;
  /** SHA-256 (hex) of a Blob body, for the device signature (a Blob is not read twice). */
  readonly bodySha256Hex?: string;
  /** Aborts the request (the cancel button). */
  readonly signal?: AbortSignal;
  readonly headers?: Readonly<Record<string, string>>;
  readonly onUploadProgress?: (p: TransferProgress) => void;
  readonly onDownloadProgress?: (p: TransferProgress) => void;
}

interface OutcomeIssue {
  details?: { coding?: { code?: unknown }[]; text?: unknown };
  extension?: { url?: unknown; valueInteger?: unknown; valueInstant?: unknown }[];
}

function outcomeError(status: number, body: unknown): ApiError {
  const issue = (body as { issue?: OutcomeIssue[] } | null)?.issue?.[0];
  const code = issue?.details?.coding?.[0]?.code;
  const text = issue?.details?.text;
  const ext = (name: string) =>
    (Array.isArray(issue?.extension) ? issue.extension : []).find(
      (e) => e.url === `${EXTENSION_BASE}${name}`,
    );
  const attemptsLeft = ext("attemptsLeft")?.valueInteger;
  const lockedUntil = ext("lockedUntil")?.valueInstant;
  return {
    status,
    code: typeof code === "string" ? code : `HTTP_${status}`,
    text: typeof text === "string" ? text : "",
    ...(typeof attemptsLeft === "number" ? { attemptsLeft } : {}),
    ...(typeof lockedUntil === "string" ? { lockedUntil } : {}),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** What `fetch` gave: the answer, or "network" when the connection failed (or the request was aborted). */
function fetchOrNetwork(path: string, init: RequestInit): Promise<Response | "network"> {
  return fetch(path, init).catch(() => "network" as const);
}

/** The refusal a fetch answer is, when it is a 503 of a request nothing was done with. */
async function refusalOf(response: Response): Promise<UnprocessedRefusal | undefined> {
  if (response.status !== 503) return undefined;
  return unprocessedRefusal(503, outcomeError(503, parseJson(await response.clone().text())).code);
}

function refusalOfBytes(status: number, bytes: Uint8Array): UnprocessedRefusal | undefined {
  if (status !== 503) return undefined;
  return unprocessedRefusal(503, outcomeError(503, parseJson(new TextDecoder().decode(bytes))).code);
}

/**
 * Sends a request (`attempt`, which signs anew each time) until `again` says its outcome is not to be
 * sent again, at most MAX_ATTEMPTS times with growing pauses (src/client/refused-unprocessed.ts: which
 * refusals, and why nothing was done by them). Behind the load balancer a later attempt reaches a
 * healthy node, so the person sees an error only when every attempt was refused. An aborted request
 * (the cancel button) ends at its next attempt, which sees the aborted signal.
 */
async function withAttempts<R>(
  attempt: () => Promise<R>,
  again: (outcome: R) => boolean | Promise<boolean>,
): Promise<R> {
  for (let n = 1; ; n++) {
    const outcome = await attempt();
    const pause = pauseBeforeNextAttempt(n);
    if (pause === undefined || !(await again(outcome))) return outcome;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

export class Api {
  csrfToken: string | undefined;
  device: DeviceCredential | undefined;

  constructor(private readonly options: ApiOptions) {}

  private fail(error: ApiError, reportAuth: boolean): never {
    if (reportAuth && AUTH_PROBLEMS.has(error.code)) this.options.onAuthProblem(error);
    throw new ApiFailure(error);
  }

  /** Headers of a state change: CSRF token and, when signing, the device signature over the body. */
  private async changeHeaders(
    method: string,
    path: string,
    body: Uint8Array | { readonly sha256Hex: string },
    sign: boolean,
  ) {
    const headers: Record<string, string> = {};
    if (this.csrfToken !== undefined) headers["x-csrf-token"] = this.csrfToken;
    if (sign && this.device !== undefined) {
      headers[DEVICE_SIGNATURE_HEADER] = await signRequest({
        method,
        path,
        ...(body instanceof Uint8Array ? { body } : { bodySha256Hex: body.sha256Hex }),
        privateKey: this.device.privateKey,
        deviceId: this.device.deviceId,
        now: Date.now(),
      });
    }
    return headers;
  }

  /** GET returning parsed JSON (or text for text answers). */
  async get<T>(path: string, o: { reportAuth?: boolean } = {}): Promise<T> {
    // A GET changes nothing: sent again after a failed connection too.
    const response = await withAttempts(
      () => fetchOrNetwork(path, { headers: { accept: "application/json" }, credentials: "same-origin" }),
      async (r) => r === "network" || (await refusalOf(r)) !== undefined,
    );
    if (response === "network") return this.fail({ status: 0, code: "NETWORK", text: "" }, false);
    const text = await response.text();
    const type = response.headers.get("content-type") ?? "";
    const body = type.includes("json") ? parseJson(text) : text;
    if (!response.ok) return this.fail(outcomeError(response.status, body), o.reportAuth ?? true);
    return body as T;
  }

  /** GET of a file (CSV), as bytes. */
  async getBytes(path: string): Promise<Uint8Array> {
    const response = await withAttempts(
      () => fetchOrNetwork(path, { credentials: "same-origin" }),
      async (r) => r === "network" || (await refusalOf(r)) !== undefined,
    );
    if (response === "network") return this.fail({ status: 0, code: "NETWORK", text: "" }, false);
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (!response.ok) {
      return this.fail(outcomeError(response.status, parseJson(new TextDecoder().decode(bytes))), true);
    }
    return bytes;
  }

  /**
   * A state change with a JSON body (or none). Signed with the device key unless `sign: false`
   * (login, logout and look-up need no device).
   */
  async send<T>(
    method: "POST" | "DELETE",
    path: string,
    json?: unknown,
    o: { sign?: boolean; reportAuth?: boolean } = {},
  ): Promise<T> {
    const body = json === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(json));
    const response = await withAttempts(
      async () => {
        // Signed anew for each attempt (a fresh nonce).
        const headers = await this.changeHeaders(method, path, body, o.sign ?? true);
        headers["accept"] = "application/json";
        if (json !== undefined) headers["content-type"] = "application/json";
        return fetchOrNetwork(path, {
          method,
          headers,
          credentials: "same-origin",
          ...(json !== undefined ? { body } : {}),
        });
      },
      // Not after a failed connection: a state change cut after it left may have been done.
      async (r) => r !== "network" && (await refusalOf(r)) !== undefined,
    );
    if (response === "network") return this.fail({ status: 0, code: "NETWORK", text: "" }, false);
    const text = await response.text();
    const parsed = text.length === 0 ? undefined : parseJson(text);
    if (!response.ok) return this.fail(outcomeError(response.status, parsed), o.reportAuth ?? true);
    return parsed as T;
  }

  /**
   * A signed POST without a body whose binary answer is read as it arrives (a large download): the
   * response body's stream, or a thrown ApiFailure for an error answer.
   */
  async stream(
    path: string,
    headers: Readonly<Record<string, string>>,
    signal?: AbortSignal,
  ): Promise<ReadableStream<Uint8Array>> {
    const response = await withAttempts(
      async () => {
        // Signed anew for each attempt (a fresh nonce), like `send`.
        const all = { ...(await this.changeHeaders("POST", path, new Uint8Array(), true)), ...headers };
        return fetchOrNetwork(path, {
          method: "POST",
          headers: all,
          credentials: "same-origin",
          ...(signal ? { signal } : {}),
        });
      },
      // Only the gate's refusal, before any route: an INTEGRITY_FAILURE used up the download's one-use
      // envelope channel (envelope-transfer.ts sends it again under a fresh agreement).
      async (r) => {
        if (r === "network" || (await refusalOf(r)) !== "gate") return false;
        await r.body?.cancel();
        return true;
      },
    );
    if (response === "network") {
      if (signal?.aborted === true) return this.fail({ status: 0, code: "CANCELLED", text: "" }, false);
      return this.fail({ status: 0, code: "NETWORK", text: "" }, false);
    }
    if (!response.ok || response.body === null) {
      const text = await response.text();
      return this.fail(outcomeError(response.status, parseJson(text)), true);
    }
    return response.body;
  }

  /**
   * A signed binary request through XMLHttpRequest, for upload and download progress. Sent again (a new
   * request, signed anew, the same body — a Blob is re-read from the browser's blob store, not from the
   * page's memory) while a node's gate answers the coded 503 of a request no route read, like `stream`.
   */
  async xhr(r: XhrRequest): Promise<{ status: number; bytes: Uint8Array }> {
    const body = r.body ?? new Uint8Array();
    const signed = body instanceof Uint8Array ? body : { sha256Hex: r.bodySha256Hex ?? missingDigest() };
    const result = await withAttempts(
      async () => sendXhr(r, { ...(await this.changeHeaders(r.method, r.path, signed, true)), ...r.headers }),
      // Only the gate's refusal, like `stream` (an envelope upload's channel is used up by anything
      // later), and not after a failed connection (an upload cut after it left may have been stored).
      (x) => typeof x === "object" && refusalOfBytes(x.status, x.bytes) === "gate",
    );
    if (result === "aborted") return this.fail({ status: 0, code: "CANCELLED", text: "" }, false);
    if (result === undefined) return this.fail({ status: 0, code: "NETWORK", text: "" }, false);
    if (result.status < 200 || result.status >= 300) {
      const parsed = parseJson(new TextDecoder().decode(result.bytes));
      return this.fail(outcomeError(result.status, parsed), true);
    }
    return result;
  }
}

/** One XMLHttpRequest: its answer, "aborted", or undefined when the connection failed. */
function sendXhr(
  r: XhrRequest,
  headers: Readonly<Record<string, string>>,
): Promise<{ status: number; bytes: Uint8Array } | "aborted" | undefined> {
  return new Promise((resolve) => {
    if (r.signal?.aborted === true) {
      resolve("aborted");
      return;
    }
    const xhr = new XMLHttpRequest();
    const abort = (): void => {
      xhr.abort();
    };
    const settle = (result: { status: number; bytes: Uint8Array } | "aborted" | undefined): void => {
      r.signal?.removeEventListener("abort", abort);
      resolve(result);
    };
    xhr.open(r.method, r.path);
    xhr.responseType = "arraybuffer";
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    const progress = (f: ((p: TransferProgress) => void) | undefined) => (e: ProgressEvent) => {
      f?.({ loaded: e.loaded, total: e.lengthComputable ? e.total : undefined });
    };
    xhr.upload.addEventListener("progress", progress(r.onUploadProgress));
    xhr.addEventListener("progress", progress(r.onDownloadProgress));
    xhr.addEventListener("load", () => {
      settle({ status: xhr.status, bytes: new Uint8Array(xhr.response as ArrayBuffer) });
    });
    xhr.addEventListener("error", () => {
      settle(undefined);
    });
    xhr.addEventListener("abort", () => {
      settle("aborted");
    });
    r.signal?.addEventListener("abort", abort);
    xhr.send(
      r.body === undefined ? null : r.body instanceof Blob ? r.body : new Blob([new Uint8Array(r.body)]),
    );
  });
}

function missingDigest(): never {
  throw new TypeError("a Blob body needs bodySha256Hex");
}

/** The ApiError of a thrown value (anything else becomes code UNEXPECTED). */
export function apiErrorOf(error: unknown): ApiError {
  if (error instanceof ApiFailure) return error.error;
  return { status: 0, code: "UNEXPECTED", text: "" };
}
