/**
 * `Provenance/$verify`: someone holding a file and its Provenance asks whether the file is what the node
 * sealed — the detached JWS checked over the presented bytes against the service CA, and the RFC 3161
 * token checked over the JWS against the TSA CAs this node has used (tsa-trust-history.ts), and the
 * sender's device signature re-checked over the 送信確定 request it covered. A match is an `audit-query` entry; a mismatch is refused with
 * SIGNATURE_INVALID (422) and recorded as an integrity denial with outcome 8 (serious failure), S1.
 */
import { createHash } from "node:crypto";
import { isCodedError } from "../../coded-error.js";
import { checkDeviceSignature, type DeviceSignatureCheck } from "../../client/device-signature-check.js";
import { verifyDetachedJws } from "../../crypto/detached-jws.js";
import { DEVICE_SIGNATURE_FORMAT, readDeviceSignatureData } from "../../fhir/provenance.js";
import { SYSTEM } from "../../fhir/systems.js";
import { audit, recordCommon } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import { ServiceError } from "../errors.js";
import { verifyTimeStampWithHistory } from "./tsa-trust-history.js";

interface SignatureLike {
  readonly type?: readonly { readonly code?: unknown }[];
  readonly sigFormat?: unknown;
  readonly data?: unknown;
}

const SEAL = "1.2.840.10065.1.12.1.14";
const TIMESTAMP = "1.2.840.10065.1.12.1.18";
const DEVICE = "1.2.840.10065.1.12.1.1";

function signatureData(
  signatures: readonly SignatureLike[],
  code: string,
  format: string,
): Uint8Array | undefined {
  const s = signatures.find((x) => x.type?.[0]?.code === code && x.sigFormat === format);
  return typeof s?.data === "string" && /^[A-Za-z0-9+/]*={0,2}$/.test(s.data)
    ? Buffer.from(s.data, "base64")
    : undefined;
}

export interface VerifiedSeal {
  readonly fileSha256: string;
  readonly signer: string;
  readonly timestamp?: string;
  /** The sender's device signature over 送信確定, re-checked (verified or not-recheckable). */
  readonly device?: DeviceSignatureCheck;
}

/** The transfer a Provenance targets (its `urn:kenshin-exchange:transfer` identifier). */
function targetTransfer(provenance: { readonly target?: unknown }): string | undefined {
  const targets = Array.isArray(provenance.target)
    ? (provenance.target as { identifier?: { system?: unknown; value?: unknown } }[])
    : [];
  const value = targets.find((t) => t.identifier?.system === SYSTEM.transfer)?.identifier?.value;
  return typeof value === "string" ? value : undefined;
}

/**
 * Re-checks the sender's device signature a Provenance carries: over exactly the 送信確定 request of
 * the transfer it targets. Undefined when it carries none; throws SIGNATURE_INVALID when it fails.
 */
async function checkDevice(
  provenance: { readonly target?: unknown },
  signatures: readonly SignatureLike[],
): Promise<DeviceSignatureCheck | undefined> {
  const s = signatures.find((x) => x.type?.[0]?.code === DEVICE);
  if (s === undefined) return undefined;
  const device = s.sigFormat === DEVICE_SIGNATURE_FORMAT ? readDeviceSignatureData(s.data) : undefined;
  const transfer = targetTransfer(provenance);
  if (device === undefined || transfer === undefined) {
    throw new ServiceError("SIGNATURE_INVALID", "Provenance の端末署名を読めません", {});
  }
  const check = await checkDeviceSignature(device, {
    method: "POST",
    path: `/api/v1/transfers/${transfer}/send`,
  });
  if (check.status === "failed") {
    throw new ServiceError("SIGNATURE_INVALID", "送信者の端末署名が一致しません", {
      code: check.code,
    });
  }
  return check;
}

/** Checks a Provenance's seal over `file`. */
export async function verifyProvenanceSeal(
  ctx: ServiceContext,
  actor: Actor,
  provenance: { readonly signature?: unknown; readonly target?: unknown },
  file: Uint8Array,
): Promise<VerifiedSeal> {
  const fileSha256 = createHash("sha256").update(file).digest("hex");
  const signatures = Array.isArray(provenance.signature) ? (provenance.signature as SignatureLike[]) : [];
  try {
    const jwsBytes = signatureData(signatures, SEAL, "application/jose");
    if (jwsBytes === undefined)
      throw new ServiceError("SIGNATURE_INVALID", "Provenance に署名 (JWS) がありません", {});
    const jws = Buffer.from(jwsBytes).toString("ascii");
    const seal = verifyDetachedJws(jws, file, { caPem: ctx.ca.certPem });
    const token = signatureData(signatures, TIMESTAMP, "application/timestamp-reply");
    const stamped =
      token === undefined
        ? undefined
        : // Against every TSA CA this node has stamped under, not only today's (tsa-trust-history.ts).
          await verifyTimeStampWithHistory(ctx, token, jwsBytes);
    const device = await checkDevice(provenance, signatures);
    await audit(ctx, [
      {
        ...recordCommon(ctx, actor, "success"),
        type: "audit-query",
        query: `fhir Provenance/$verify ${fileSha256}`,
      },
    ]);
    return {
      fileSha256,
      signer: seal.subject,
      ...(stamped !== undefined ? { timestamp: stamped.genTime.toISOString() } : {}),
      ...(device !== undefined ? { device } : {}),
    };
  } catch (error) {
    if (!isCodedError(error)) throw error;
    await audit(ctx, [
      {
        ...recordCommon(ctx, actor, "serious-failure", error.code),
        type: "denial",
        action: "integrity",
        code: "SIGNATURE_INVALID",
      },
    ]);
    throw new ServiceError("SIGNATURE_INVALID", "ファイルが署名と一致しません (送信後に変更されています)", {
      cause: error.code,
    });
  }
}
