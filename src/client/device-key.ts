/**
 * Device keys: the ECDSA P-256 key pair a browser (or the CLI) registers with the service, and the
 * device ID derived from its public key. WebCrypto only (`globalThis.crypto.subtle`) so the same code
 * runs in the browser, where the private key is created non-extractable and kept in IndexedDB, and in
 * Node (the CLI keeps it in a file, see device-key-file.ts).
 *
 * Device ID = the RFC 7638 JWK SHA-256 thumbprint of the public key, base64url without padding (the same
 * value RFC 9449 calls `jkt`). It names the key without any registry and cannot be chosen by a client
 * for a key it does not hold.
 */
import { CodedError } from "../coded-error.js";

/** Codes of the device client: unusable keys and requests that cannot be signed as given. */
export type DeviceClientErrorCode = "DEVICE_KEY_INVALID" | "DEVICE_REQUEST_INVALID";

/** Error of the device client library. Context never carries key material. */
export class DeviceClientError extends CodedError<DeviceClientErrorCode> {
  constructor(
    code: DeviceClientErrorCode,
    message: string,
    context: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, context, options);
    this.name = "DeviceClientError";
  }
}

/** WebCrypto parameters of device keys and signatures: ECDSA on P-256 with SHA-256 (JWA ES256). */
export const DEVICE_KEY_ALGORITHM: EcKeyGenParams = Object.freeze({ name: "ECDSA", namedCurve: "P-256" });
/** WebCrypto signature parameters; signatures are IEEE P1363 r‖s, 64 bytes. */
export const DEVICE_SIGNATURE_ALGORITHM: EcdsaParams = Object.freeze({ name: "ECDSA", hash: "SHA-256" });

/** A device public key as registered: exactly the RFC 7518 §6.2.1 members of a P-256 key. */
export interface DevicePublicJwk {
  readonly kty: "EC";
  readonly crv: "P-256";
  readonly x: string;
  readonly y: string;
}

function subtle(): SubtleCrypto {
  return globalThis.crypto.subtle;
}

/**
 * Creates a device key pair. The private key is non-extractable: script can use it to sign but can
 * never read it, so an XSS or a copied browser profile database does not yield the key itself.
 */
export async function generateDeviceKey(): Promise<CryptoKeyPair> {
  return subtle().generateKey(DEVICE_KEY_ALGORITHM, false, ["sign", "verify"]);
}

/** Exports a device public key as a JWK with only kty, crv, x and y (what registration sends). */
export async function exportPublicJwk(key: CryptoKey): Promise<DevicePublicJwk> {
  if (key.type !== "public") {
    throw new DeviceClientError("DEVICE_KEY_INVALID", "公開鍵ではありません", { type: key.type });
  }
  return parseDevicePublicJwk(await subtle().exportKey("jwk", key));
}

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** base64url without padding (RFC 4648 §5, as JOSE uses it: RFC 7515 §2). */
export function base64UrlEncode(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] ?? 0;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += B64URL.charAt((n >> 18) & 63) + B64URL.charAt((n >> 12) & 63);
    if (b !== undefined) out += B64URL.charAt((n >> 6) & 63);
    if (c !== undefined) out += B64URL.charAt(n & 63);
  }
  return out;
}

/**
 * Decodes unpadded base64url, or returns undefined for anything else: other characters, padding, an
 * impossible length or non-zero spare bits. So each byte string has exactly one accepted text, and a
 * signature or ID cannot be re-spelled to dodge a comparison or a replay check.
 */
export function base64UrlDecode(text: string): Uint8Array | undefined {
  if (text.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    const chunk = Math.min(4, text.length - i);
    for (let j = 0; j < 4; j++) {
      const v = j < chunk ? B64URL.indexOf(text.charAt(i + j)) : 0;
      if (v < 0) return undefined;
      n = (n << 6) | v;
    }
    for (const b of [(n >> 16) & 255, (n >> 8) & 255, n & 255]) if (o < out.length) out[o++] = b;
  }
  return base64UrlEncode(out) === text ? out : undefined;
}

/** Bytes of a P-256 coordinate (RFC 7518 §6.2.1.2: the full 32 bytes, leading zeros kept). */
const COORDINATE_BYTES = 32;

/**
 * Checks that a JWK is a P-256 public key and returns just its defining members. A JWK carrying a
 * private part ("d") is refused: it must never be sent to, or stored by, the service.
 * @throws DeviceClientError DEVICE_KEY_INVALID
 */
export function parseDevicePublicJwk(jwk: unknown): DevicePublicJwk {
  const fail = (why: string): never => {
    throw new DeviceClientError("DEVICE_KEY_INVALID", `端末の公開鍵が不正です: ${why}`, { why });
  };
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk))
    return fail("JWK オブジェクトではありません");
  const o = jwk as Record<string, unknown>;
  if (o.kty !== "EC" || o.crv !== "P-256") return fail("kty=EC, crv=P-256 ではありません");
  if ("d" in o) return fail("秘密鍵が含まれています");
  const x = coordinate(o.x);
  const y = coordinate(o.y);
  if (x === undefined || y === undefined) return fail("x, y が 32 バイトの base64url ではありません");
  return { kty: "EC", crv: "P-256", x, y };
}

function coordinate(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length > 64) return undefined;
  return base64UrlDecode(value)?.length === COORDINATE_BYTES ? value : undefined;
}

/**
 * Imports a registered public key for verification. The point is validated by the WebCrypto
 * implementation (off-curve points are refused), beyond the shape checks of parseDevicePublicJwk.
 * @throws DeviceClientError DEVICE_KEY_INVALID
 */
export async function importDevicePublicKey(jwk: unknown): Promise<CryptoKey> {
  const pub = parseDevicePublicJwk(jwk);
  try {
    return await subtle().importKey("jwk", { ...pub, ext: true }, DEVICE_KEY_ALGORITHM, true, ["verify"]);
  } catch (cause) {
    throw new DeviceClientError(
      "DEVICE_KEY_INVALID",
      "端末の公開鍵が P-256 の点ではありません",
      {},
      { cause },
    );
  }
}

/**
 * The device ID of a public key: RFC 7638 §3 thumbprint. The required members of an EC key (§3.2) are
 * crv, kty, x, y, serialised in that (lexicographic) order without whitespace, hashed with SHA-256 and
 * base64url-encoded (43 characters).
 * @throws DeviceClientError DEVICE_KEY_INVALID
 */
export async function deviceIdFromJwk(jwk: unknown): Promise<string> {
  const { crv, kty, x, y } = parseDevicePublicJwk(jwk);
  // Every member is base64url or a fixed ASCII name, so JSON.stringify adds no escapes and the member
  // order is the literal's order: exactly the RFC 7638 §3.3 form.
  const json = JSON.stringify({ crv, kty, x, y });
  const digest = await subtle().digest("SHA-256", new TextEncoder().encode(json));
  return base64UrlEncode(new Uint8Array(digest));
}
