/**
 * Device request signatures, version 1: the client side. WebCrypto only, so it runs in the browser, the
 * CLI and the tests alike. The server side is service/identity/device-signature.ts, which uses the same
 * canonical string from this file.
 *
 * Protocol
 * --------
 * Every state-changing request carries a header
 *
 *     X-Kenshin-Device: v1;id=<deviceId>;ts=<ms>;nonce=<nonce>;sig=<sig>
 *
 * deviceId  the RFC 7638 thumbprint of the registered public key (device-key.ts), 43 base64url chars
 * ts        the signing time, milliseconds since the Unix epoch, decimal without leading zeros
 * nonce     base64url (no padding) of 16 random bytes, 22 chars; never reused by a device
 * sig       base64url of the ECDSA P-256 / SHA-256 signature in IEEE P1363 form (r‖s, 64 bytes, what
 *           WebCrypto produces), 86 chars, over the UTF-8 bytes of the canonical string:
 *
 *     kenshin-device-signature/v1 \n METHOD \n path \n bodySha256 \n ts \n nonce \n deviceId
 *
 * (joined with "\n", no trailing newline) where METHOD is the request method in upper case, path is the
 * request target exactly as sent (path and query, percent-encoding untouched, e.g. `/api/x?a=1`), and
 * bodySha256 is the lower-case hex SHA-256 of the body bytes as sent (of the empty string when there is
 * no body). Fields are separated by "\n" and none may contain one, so the string parses one way only.
 * The version label first keeps a signature from ever being valid under another protocol or version.
 *
 * What it proves: the holder of the registered device key asked for exactly this method, target and body
 * at about this time. TLS already protects the channel; the signature binds the action to a device for
 * the ledger, and the nonce and time window (checked by the server) stop a captured request from being
 * replayed.
 */
import { DEVICE_SIGNATURE_ALGORITHM, DeviceClientError, base64UrlEncode } from "./device-key.js";

/** Name of the HTTP header carrying the signature. */
export const DEVICE_SIGNATURE_HEADER = "X-Kenshin-Device";
/** First line of the canonical string: protocol and version. */
export const DEVICE_SIGNATURE_CONTEXT = "kenshin-device-signature/v1";
/** Nonce length in bytes. */
export const DEVICE_NONCE_BYTES = 16;
/** Longest request target that can be signed; longer ones are refused on both sides. */
export const MAX_SIGNED_PATH_LENGTH = 8192;
const MAX_METHOD_LENGTH = 32;

/** The fields of the canonical string, as text exactly as they appear in it. */
export interface CanonicalSigningFields {
  /** Request method; upper-cased here. */
  method: string;
  /** Request target (path and query) exactly as sent. */
  path: string;
  /** Lower-case hex SHA-256 of the body bytes. */
  bodySha256Hex: string;
  /** Milliseconds since the epoch. */
  timestamp: number;
  /** base64url nonce. */
  nonce: string;
  /** Device ID (RFC 7638 thumbprint, base64url). */
  deviceId: string;
}

// RFC 9110 §5.6.2 token characters, the only ones a method can have.
function isTokenChar(c: number): boolean {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return true;
  return "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c));
}

/**
 * Upper-cased method, or undefined when it is not an RFC 9110 token of at most 32 characters. The server
 * side uses this too, so both sides agree on what can be signed.
 */
export function canonicalMethod(method: string): string | undefined {
  if (method.length === 0 || method.length > MAX_METHOD_LENGTH) return undefined;
  for (let i = 0; i < method.length; i++) if (!isTokenChar(method.charCodeAt(i))) return undefined;
  return method.toUpperCase();
}

/**
 * True for a request target in origin-form (RFC 9112 §3.2.1) as it goes on the wire: starts with "/",
 * visible ASCII only (non-ASCII must already be percent-encoded, or the browser would send something
 * other than what was signed), at most MAX_SIGNED_PATH_LENGTH characters.
 */
export function isSignablePath(path: string): boolean {
  if (path.length === 0 || path.length > MAX_SIGNED_PATH_LENGTH || path.charCodeAt(0) !== 0x2f) return false;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

function isLowerHex64(text: string): boolean {
  if (text.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

function isBase64UrlChars(text: string, maxLength: number): boolean {
  if (text.length === 0 || text.length > maxLength) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      c === 0x2d ||
      c === 0x5f;
    if (!ok) return false;
  }
  return true;
}

/** True for a timestamp that can appear in a header: a non-negative safe integer. */
export function isSignableTimestamp(ms: number): boolean {
  return Number.isSafeInteger(ms) && ms >= 0;
}

/**
 * The canonical string of a request (see the file header).
 * @throws DeviceClientError DEVICE_REQUEST_INVALID when a field cannot be represented unambiguously
 */
export function canonicalSigningString(fields: CanonicalSigningFields): string {
  const fail = (field: string): never => {
    throw new DeviceClientError("DEVICE_REQUEST_INVALID", `署名できない要求です (${field})`, { field });
  };
  const method = canonicalMethod(fields.method) ?? fail("method");
  if (!isSignablePath(fields.path)) fail("path");
  if (!isLowerHex64(fields.bodySha256Hex)) fail("bodySha256Hex");
  if (!isSignableTimestamp(fields.timestamp)) fail("timestamp");
  if (!isBase64UrlChars(fields.nonce, 64)) fail("nonce");
  if (!isBase64UrlChars(fields.deviceId, 64)) fail("deviceId");
  return [
    DEVICE_SIGNATURE_CONTEXT,
    method,
    fields.path,
    fields.bodySha256Hex,
    String(fields.timestamp),
    fields.nonce,
    fields.deviceId,
  ].join("\n");
}

/** Lower-case hex SHA-256 of bytes (WebCrypto). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  let out = "";
  for (const b of digest) out += b.toString(16).padStart(2, "0");
  return out;
}

/** What signRequest needs; `nonce` is injectable for tests and defaults to 16 fresh random bytes. */
export interface SignRequestOptions {
  method: string;
  /** Request target (path and query) exactly as it will be sent. */
  path: string;
  /** Body bytes exactly as they will be sent; absent or empty for no body. */
  body?: Uint8Array;
  /**
   * The body's SHA-256 (lower-case hex) when the body is streamed and hashed beforehand; used instead
   * of hashing `body`.
   */
  bodySha256Hex?: string;
  /** The device's ECDSA P-256 private key (may be non-extractable). */
  privateKey: CryptoKey;
  deviceId: string;
  /** Signing time, milliseconds since the epoch. */
  now: number;
  nonce?: Uint8Array;
}

/**
 * Signs a request and returns the value of the X-Kenshin-Device header.
 * @throws DeviceClientError DEVICE_REQUEST_INVALID for a field that cannot be signed (bad method, path
 *   not in wire form, nonce not 16 bytes…), DEVICE_KEY_INVALID when the key cannot sign
 */
export async function signRequest(o: SignRequestOptions): Promise<string> {
  const nonceBytes = o.nonce ?? globalThis.crypto.getRandomValues(new Uint8Array(DEVICE_NONCE_BYTES));
  if (nonceBytes.length !== DEVICE_NONCE_BYTES) {
    throw new DeviceClientError("DEVICE_REQUEST_INVALID", "nonce は16バイトにしてください", {
      length: nonceBytes.length,
    });
  }
  const nonce = base64UrlEncode(nonceBytes);
  const canonical = canonicalSigningString({
    method: o.method,
    path: o.path,
    bodySha256Hex: o.bodySha256Hex ?? (await sha256Hex(o.body ?? new Uint8Array(0))),
    timestamp: o.now,
    nonce,
    deviceId: o.deviceId,
  });
  let signature: ArrayBuffer;
  try {
    signature = await globalThis.crypto.subtle.sign(
      DEVICE_SIGNATURE_ALGORITHM,
      o.privateKey,
      new TextEncoder().encode(canonical),
    );
  } catch (cause) {
    throw new DeviceClientError("DEVICE_KEY_INVALID", "端末の鍵で署名できません", {}, { cause });
  }
  return formatDeviceSignatureHeader({
    deviceId: o.deviceId,
    ts: o.now,
    nonce,
    sig: base64UrlEncode(new Uint8Array(signature)),
  });
}

/** The header value for already-encoded fields, in the documented parameter order. */
export function formatDeviceSignatureHeader(h: {
  deviceId: string;
  ts: number;
  nonce: string;
  sig: string;
}): string {
  return `v1;id=${h.deviceId};ts=${h.ts};nonce=${h.nonce};sig=${h.sig}`;
}
