/**
 * Re-checking a device signature that a ledger entry recorded (`actor.device`), by anyone holding the
 * entry: the CLI (`kenshin verify`), the browser (検証 page and the transfer timeline) and the service
 * (`Provenance/$verify`) all call this one function. WebCrypto only, so it runs in the browser too.
 *
 * The entry holds the signature, the device ID (RFC 7638 thumbprint of the public key), the public key
 * itself (x, y of the P-256 JWK) and what the signature covered (method, path, body SHA-256, ts, nonce):
 * - the public key is proven by its thumbprint, which must equal the recorded device ID — no registry
 *   (and no service.db row, which goes when the device is removed) is trusted;
 * - the signature is checked over the canonical string of client/request-signing.ts rebuilt from the
 *   recorded fields, so a one-byte change to any covered field, the key or the signature fails;
 * - for the requests whose target names the transfer (送信確定, 受領確定, 取消), the recorded target
 *   must be that request on this entry's transfer, so a genuine signature over another request cannot
 *   be passed off as the sender's 送信確定.
 * Entries written before issue 12 recorded the signature only: those answer `not-recheckable`, never
 * `verified`. Never throws.
 */
import type { DeviceSignatureRecord, OperationRecord } from "../ledger/entry/operation-record.js";
import {
  base64UrlDecode,
  deviceIdFromJwk,
  importDevicePublicKey,
  DEVICE_SIGNATURE_ALGORITHM,
} from "./device-key.js";
import { canonicalSigningString } from "./request-signing.js";

/** Outcome of a re-check. */
export type DeviceSignatureStatus = "verified" | "failed" | "not-recheckable" | "none";

/** Why a re-check failed. */
export type DeviceSignatureCheckCode =
  "DEVICE_KEY_MISMATCH" | "DEVICE_SIGNATURE_INVALID" | "DEVICE_REQUEST_MISMATCH" | "DEVICE_RECORD_MALFORMED";

export interface DeviceSignatureCheck {
  readonly status: DeviceSignatureStatus;
  /** The device ID the entry names. */
  readonly deviceId?: string;
  /** The signing time (ISO 8601), when recorded. */
  readonly signedAt?: string;
  /** The signed request, `METHOD path`, when recorded. */
  readonly request?: string;
  readonly code?: DeviceSignatureCheckCode;
}

/** The request an entry of this type must have been signed over, when its target names the transfer. */
export function expectedRequest(record: OperationRecord): { method: string; path: string } | undefined {
  if (record.type === "send") return { method: "POST", path: `/api/v1/transfers/${record.transfer}/send` };
  if (record.type === "receipt") {
    return { method: "POST", path: `/api/v1/transfers/${record.transfer}/receipt` };
  }
  return undefined;
}

/** Re-checks the device signature an entry recorded (see the file header). */
export async function checkRecordedDeviceSignature(record: OperationRecord): Promise<DeviceSignatureCheck> {
  const device = record.actor.device;
  if (device === undefined) return { status: "none" };
  return checkDeviceSignature(device, expectedRequest(record));
}

/**
 * Re-checks one recorded device signature; with `expected`, the signed request must be exactly that
 * method and target.
 */
export async function checkDeviceSignature(
  device: DeviceSignatureRecord,
  expected?: { readonly method: string; readonly path: string },
): Promise<DeviceSignatureCheck> {
  const { request, key } = device;
  if (request === undefined || key === undefined)
    return { status: "not-recheckable", deviceId: device.keyId };
  const seen = {
    deviceId: device.keyId,
    signedAt: Number.isSafeInteger(request.ts) ? new Date(request.ts).toISOString() : "-",
    request: `${request.method} ${request.path}`,
  };
  const fail = (code: DeviceSignatureCheckCode): DeviceSignatureCheck => ({
    status: "failed",
    ...seen,
    code,
  });
  try {
    const jwk = { kty: "EC", crv: "P-256", x: key.x, y: key.y };
    if ((await deviceIdFromJwk(jwk)) !== device.keyId) return fail("DEVICE_KEY_MISMATCH");
    const signature = base64UrlDecode(device.signature);
    if (signature?.length !== 64) return fail("DEVICE_RECORD_MALFORMED");
    const canonical = canonicalSigningString({
      method: request.method,
      path: request.path,
      bodySha256Hex: request.bodySha256,
      timestamp: request.ts,
      nonce: request.nonce,
      deviceId: device.keyId,
    });
    const publicKey = await importDevicePublicKey(jwk);
    const valid = await globalThis.crypto.subtle.verify(
      DEVICE_SIGNATURE_ALGORITHM,
      publicKey,
      new Uint8Array(signature),
      new TextEncoder().encode(canonical),
    );
    if (!valid) return fail("DEVICE_SIGNATURE_INVALID");
    if (expected !== undefined && (expected.method !== request.method || expected.path !== request.path)) {
      return fail("DEVICE_REQUEST_MISMATCH");
    }
    return { status: "verified", ...seen };
  } catch {
    // A key that is not a point on P-256, a field the canonical string cannot hold.
    return fail("DEVICE_RECORD_MALFORMED");
  }
}

/** The check in one Japanese phrase, for the CLI and the FHIR OperationOutcome. */
export function deviceSignatureText(check: DeviceSignatureCheck): string {
  switch (check.status) {
    case "verified":
      return `端末署名: 検証済み — 端末 ${check.deviceId ?? "?"} / 署名時刻 ${check.signedAt ?? "?"} (${check.request ?? "?"})`;
    case "failed":
      return `端末署名: 検証失敗 (${check.code ?? "?"}) — 端末 ${check.deviceId ?? "?"}`;
    case "not-recheckable":
      return `端末署名: 端末 ${check.deviceId ?? "?"} — 署名の対象が記録されていない古いエントリのため再検証できません`;
    case "none":
      return "端末署名: なし";
  }
}
