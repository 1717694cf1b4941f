/**
 * Device keys in files, for the CLI and the tests: a browser keeps its non-extractable key in IndexedDB,
 * a command-line tool has nowhere but the file system. The file is the private JWK (RFC 7517 / RFC 7518
 * §6.2.2: kty, crv, x, y, d) as JSON, created with mode 0600 and never overwritten; it is read back
 * into a non-extractable CryptoKey so the rest of the program handles it like the browser's.
 * Node only (node:fs); the signing itself stays in WebCrypto.
 */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { CryptoError } from "../crypto/errors.js";
import {
  DEVICE_KEY_ALGORITHM,
  DEVICE_SIGNATURE_ALGORITHM,
  base64UrlDecode,
  deviceIdFromJwk,
  parseDevicePublicJwk,
  type DevicePublicJwk,
} from "./device-key.js";

/** A device key loaded for use: keys for WebCrypto plus what registration sends. */
export interface DeviceKeyFromFile {
  /** Non-extractable ECDSA P-256 signing key. */
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly publicJwk: DevicePublicJwk;
  /** RFC 7638 thumbprint of publicJwk. */
  readonly deviceId: string;
}

const MAX_KEY_FILE_BYTES = 4096;

/**
 * Creates a fresh device key and writes it to `path` (mode 0600, refusing to overwrite).
 * @throws CryptoError CRYPTO_KEY_FILE_EXISTS, CRYPTO_KEY_FILE_UNREADABLE (cannot write)
 */
export async function createDeviceKeyFile(path: string): Promise<DeviceKeyFromFile> {
  // Extractable only for this moment, to write it out; what is returned is re-imported non-extractable.
  const pair = await globalThis.crypto.subtle.generateKey(DEVICE_KEY_ALGORITHM, true, ["sign", "verify"]);
  const jwk = await globalThis.crypto.subtle.exportKey("jwk", pair.privateKey);
  const text = `${JSON.stringify({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d })}\n`;
  try {
    writeFileSync(path, text, { mode: 0o600, flag: "wx" });
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "EEXIST") {
      throw new CryptoError(
        "CRYPTO_KEY_FILE_EXISTS",
        "端末鍵ファイルが既にあります (上書きしません)",
        {},
        { cause },
      );
    }
    throw new CryptoError("CRYPTO_KEY_FILE_UNREADABLE", "端末鍵ファイルを書けません", {}, { cause });
  }
  return importPrivateJwk(jwk);
}

/**
 * Reads a device key file. Refuses a file that others can read (like ssh does with private keys), one
 * that is not a P-256 private JWK, and one whose private part does not match its public part.
 * @throws CryptoError CRYPTO_KEY_FILE_UNREADABLE, CRYPTO_KEY_INVALID
 */
export async function loadDeviceKeyFile(path: string): Promise<DeviceKeyFromFile> {
  let text: string;
  try {
    const st = statSync(path);
    if (st.size > MAX_KEY_FILE_BYTES) {
      throw new CryptoError("CRYPTO_KEY_INVALID", "端末鍵ファイルが大きすぎます");
    }
    // POSIX permissions only; on Windows the mode bits do not describe access.
    if (process.platform !== "win32" && (st.mode & 0o077) !== 0) {
      throw new CryptoError(
        "CRYPTO_KEY_INVALID",
        "端末鍵ファイルを所有者以外も読めます (chmod 600 にしてください)",
        {
          mode: (st.mode & 0o777).toString(8),
        },
      );
    }
    text = readFileSync(path, "utf8");
  } catch (cause) {
    if (cause instanceof CryptoError) throw cause;
    throw new CryptoError("CRYPTO_KEY_FILE_UNREADABLE", "端末鍵ファイルを読めません", {}, { cause });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new CryptoError("CRYPTO_KEY_INVALID", "端末鍵ファイルが JSON ではありません", {}, { cause });
  }
  return importPrivateJwk(parsed);
}

async function importPrivateJwk(value: unknown): Promise<DeviceKeyFromFile> {
  const invalid = (why: string, cause?: unknown): CryptoError =>
    new CryptoError("CRYPTO_KEY_INVALID", `端末鍵ファイルが不正です: ${why}`, {}, { cause });
  if (typeof value !== "object" || value === null) throw invalid("JWK オブジェクトではありません");
  const { d, ...rest } = value as Record<string, unknown>;
  if (typeof d !== "string" || base64UrlDecode(d)?.length !== 32)
    throw invalid("d が 32 バイトではありません");
  let publicJwk: DevicePublicJwk;
  try {
    publicJwk = parseDevicePublicJwk(rest);
  } catch (cause) {
    throw invalid("公開鍵部分が P-256 ではありません", cause);
  }
  const subtle = globalThis.crypto.subtle;
  let privateKey: CryptoKey;
  let publicKey: CryptoKey;
  try {
    privateKey = await subtle.importKey("jwk", { ...publicJwk, d }, DEVICE_KEY_ALGORITHM, false, ["sign"]);
    publicKey = await subtle.importKey("jwk", publicJwk, DEVICE_KEY_ALGORITHM, true, ["verify"]);
  } catch (cause) {
    throw invalid("鍵を読み込めません", cause);
  }
  // Importing does not check that d belongs to (x, y); a sign-and-verify round trip does, so a damaged
  // file fails here and not later as a stream of refused requests.
  const probe = new TextEncoder().encode("kenshin-device-key-file/probe");
  const sig = await subtle.sign(DEVICE_SIGNATURE_ALGORITHM, privateKey, probe);
  if (!(await subtle.verify(DEVICE_SIGNATURE_ALGORITHM, publicKey, sig, probe))) {
    throw invalid("秘密鍵と公開鍵が対応していません");
  }
  return { privateKey, publicKey, publicJwk, deviceId: await deviceIdFromJwk(publicJwk) };
}
