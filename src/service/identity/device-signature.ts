/**
 * Device request signatures, version 1: the server side. Parses the X-Kenshin-Device header and checks
 * the signature against the registered public key. The protocol (canonical string, header format) is
 * documented in client/request-signing.ts, whose canonicalSigningString this file uses so the two sides
 * cannot drift apart. Pure: the clock comes in as `now`, keys as JWKs, and nothing is stored.
 *
 * Contract with the caller (the request pipeline):
 * - `path` is the request target exactly as received (Node's `req.url`), not a normalised or decoded
 *   form; `bodySha256Hex` is the SHA-256 of the raw body bytes before any parsing.
 * - `publicJwk` is the key registered for the device; look it up by the header's `id` (parse first, or
 *   pass `expectedDeviceId` when the session already names the device). The ID is re-derived from the
 *   key (RFC 7638), so a header cannot claim another device's ID with its own key.
 * - Replay: this function does not remember nonces. Only after it returns ok, the caller must record
 *   (deviceId, nonce) atomically and refuse the request if that pair was already recorded (e.g. a UNIQUE
 *   constraint, checked in the same transaction as the state change). Keep each pair at least until
 *   ts + maxSkewMs has passed on the server clock; after that the time check alone refuses it, so the
 *   store can be pruned. Do not key replay on the signature bytes: ECDSA signatures are malleable ((r, s)
 *   and (r, n − s) both verify), the nonce is not.
 * - Outcomes: MALFORMED (the header or request cannot be read: 400), INVALID (signature does not verify
 *   for this request and key: 401/403 and an audit entry), STALE (authentic but outside ±maxSkewMs:
 *   the UI can ask the user to check the PC clock). The signature is checked before the time, so STALE
 *   is only ever said of a genuine signature and an attacker learns nothing from it.
 */
import {
  deviceIdFromJwk,
  base64UrlDecode,
  importDevicePublicKey,
  DEVICE_SIGNATURE_ALGORITHM,
} from "../../client/device-key.js";
import {
  DEVICE_NONCE_BYTES,
  canonicalMethod,
  canonicalSigningString,
  isSignablePath,
} from "../../client/request-signing.js";

/** Codes of a refused device signature. */
export type DeviceSignatureFailureCode =
  "DEVICE_SIGNATURE_MALFORMED" | "DEVICE_SIGNATURE_INVALID" | "DEVICE_SIGNATURE_STALE";

/** A refusal; the message is Japanese and safe to show (no header values in it). */
export interface DeviceSignatureFailure<
  Code extends DeviceSignatureFailureCode = DeviceSignatureFailureCode,
> {
  ok: false;
  code: Code;
  message: string;
}

/** The fields of a well-formed header. */
export interface ParsedDeviceSignatureHeader {
  readonly version: "v1";
  /** RFC 7638 thumbprint, base64url (43 characters). */
  readonly deviceId: string;
  /** Milliseconds since the epoch. */
  readonly ts: number;
  /** base64url of 16 bytes (22 characters), as it appears in the header and the canonical string. */
  readonly nonce: string;
  /** IEEE P1363 r‖s, 64 bytes. */
  readonly signature: Uint8Array;
}

/** Longest header value accepted; a well-formed v1 value is under 200 characters. */
export const MAX_DEVICE_SIGNATURE_HEADER_LENGTH = 256;
const DEVICE_ID_BYTES = 32;
const SIGNATURE_BYTES = 64;
const PARAMETERS = ["id", "ts", "nonce", "sig"] as const;
type Parameter = (typeof PARAMETERS)[number];
// A fixed pattern, never built from input: decimal without leading zeros, at most 16 digits.
const TIMESTAMP_RE = /^(?:0|[1-9][0-9]{0,15})$/;

function malformed(why: string): DeviceSignatureFailure<"DEVICE_SIGNATURE_MALFORMED"> {
  return { ok: false, code: "DEVICE_SIGNATURE_MALFORMED", message: `端末署名ヘッダーが不正です: ${why}` };
}

function isParameter(name: string): name is Parameter {
  return (PARAMETERS as readonly string[]).includes(name);
}

/** Decodes canonical base64url of exactly `bytes` bytes, or undefined. */
function decodeExact(text: string, bytes: number): Uint8Array | undefined {
  if (text.length !== Math.ceil((bytes * 4) / 3)) return undefined;
  const out = base64UrlDecode(text);
  return out?.length === bytes ? out : undefined;
}

/**
 * Parses an X-Kenshin-Device header value strictly: version "v1" first, then each of id, ts, nonce and
 * sig exactly once in any order, no other parameters, no whitespace, canonical encodings of the exact
 * sizes. Never throws, whatever the input.
 */
export function parseDeviceSignatureHeader(
  value: string,
): { ok: true; header: ParsedDeviceSignatureHeader } | DeviceSignatureFailure<"DEVICE_SIGNATURE_MALFORMED"> {
  if (typeof value !== "string") return malformed("文字列ではありません");
  if (value.length > MAX_DEVICE_SIGNATURE_HEADER_LENGTH) return malformed("長すぎます");
  const parts = value.split(";");
  if (parts[0] !== "v1") return malformed("版が v1 ではありません");
  const seen = new Map<Parameter, string>();
  for (const part of parts.slice(1)) {
    const eq = part.indexOf("=");
    if (eq <= 0) return malformed("パラメーターの形式が不正です");
    const name = part.slice(0, eq);
    if (!isParameter(name)) return malformed("未知のパラメーターがあります");
    if (seen.has(name)) return malformed(`パラメーター ${name} が重複しています`);
    seen.set(name, part.slice(eq + 1));
  }
  const id = seen.get("id");
  const tsText = seen.get("ts");
  const nonce = seen.get("nonce");
  const sig = seen.get("sig");
  if (id === undefined || tsText === undefined || nonce === undefined || sig === undefined) {
    return malformed("id, ts, nonce, sig のいずれかがありません");
  }
  if (decodeExact(id, DEVICE_ID_BYTES) === undefined) return malformed("id が不正です");
  if (!TIMESTAMP_RE.test(tsText)) return malformed("ts が不正です");
  const ts = Number(tsText);
  if (!Number.isSafeInteger(ts)) return malformed("ts が大きすぎます");
  if (decodeExact(nonce, DEVICE_NONCE_BYTES) === undefined) return malformed("nonce が不正です");
  const signature = decodeExact(sig, SIGNATURE_BYTES);
  if (signature === undefined) return malformed("sig が不正です");
  return { ok: true, header: { version: "v1", deviceId: id, ts, nonce, signature } };
}

/** What verifyDeviceSignature needs; see the file header for the contract on each field. */
export interface VerifyDeviceSignatureOptions {
  /** The X-Kenshin-Device header value. */
  header: string;
  method: string;
  /** Request target exactly as received. */
  path: string;
  /** Lower-case hex SHA-256 of the raw body bytes (of the empty string when there is none). */
  bodySha256Hex: string;
  /** The registered device public key. */
  publicJwk: JsonWebKey;
  /** When given, the header's device ID must equal it. */
  expectedDeviceId?: string;
  /** Server time, milliseconds since the epoch. */
  now: number;
  /** Largest accepted |now − ts|, in milliseconds. */
  maxSkewMs: number;
}

/** Result of verifyDeviceSignature: the facts the caller records (ledger entry, replay store). */
export type DeviceSignatureResult =
  { ok: true; deviceId: string; nonce: string; ts: number } | DeviceSignatureFailure;

/**
 * Compares two strings in time that depends only on their lengths. Device IDs are public, but an
 * early-exit comparison would still let a caller probe a registered ID character by character.
 */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function invalid(): DeviceSignatureFailure<"DEVICE_SIGNATURE_INVALID"> {
  return { ok: false, code: "DEVICE_SIGNATURE_INVALID", message: "端末署名を検証できません" };
}

/**
 * Verifies a request's device signature (see the file header for the caller's replay duty).
 * @throws RangeError when `now`, `maxSkewMs` or `bodySha256Hex` are not what the server should pass
 * @throws DeviceClientError DEVICE_KEY_INVALID when `publicJwk` is not a P-256 public key (validate keys
 *   at registration with parseDevicePublicJwk so this never happens for stored keys)
 */
export async function verifyDeviceSignature(o: VerifyDeviceSignatureOptions): Promise<DeviceSignatureResult> {
  if (!Number.isFinite(o.now) || !Number.isFinite(o.maxSkewMs) || o.maxSkewMs < 0) {
    throw new RangeError("now と maxSkewMs は有限の数 (maxSkewMs ≥ 0) にしてください");
  }
  if (!/^[0-9a-f]{64}$/.test(o.bodySha256Hex)) {
    throw new RangeError("bodySha256Hex は小文字16進64桁にしてください");
  }
  const parsed = parseDeviceSignatureHeader(o.header);
  if (!parsed.ok) return parsed;
  const h = parsed.header;
  if (canonicalMethod(o.method) === undefined || !isSignablePath(o.path)) {
    return malformed("要求のメソッドまたはパスを正規化できません");
  }

  const publicKey = await importDevicePublicKey(o.publicJwk);
  const keyDeviceId = await deviceIdFromJwk(o.publicJwk);
  // Evaluate both comparisons before branching so the outcome time does not depend on which failed.
  const matchesKey = constantTimeEqual(h.deviceId, keyDeviceId);
  const matchesExpected =
    o.expectedDeviceId === undefined || constantTimeEqual(h.deviceId, o.expectedDeviceId);
  if (!matchesKey || !matchesExpected) return invalid();

  const canonical = canonicalSigningString({
    method: o.method,
    path: o.path,
    bodySha256Hex: o.bodySha256Hex,
    timestamp: h.ts,
    nonce: h.nonce,
    deviceId: h.deviceId,
  });
  const valid = await globalThis.crypto.subtle.verify(
    DEVICE_SIGNATURE_ALGORITHM,
    publicKey,
    new Uint8Array(h.signature),
    new TextEncoder().encode(canonical),
  );
  if (!valid) return invalid();

  if (Math.abs(o.now - h.ts) > o.maxSkewMs) {
    return {
      ok: false,
      code: "DEVICE_SIGNATURE_STALE",
      message: "端末署名の時刻がずれています (PC の時計を確認してください)",
    };
  }
  return { ok: true, deviceId: h.deviceId, nonce: h.nonce, ts: h.ts };
}
