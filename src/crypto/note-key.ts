/**
 * Ed25519 keys for C2SP signed notes, in the text forms of golang.org/x/mod/sumdb/note so the same key
 * files work with Go tooling:
 *   signer key   PRIVATE+KEY+<name>+<key ID hex>+base64(0x01 ‖ 32-byte seed)
 *   verifier key <name>+<key ID hex>+base64(0x01 ‖ 32-byte public key)
 * key ID = SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4] (https://c2sp.org/signed-note#signatures).
 * Signing uses node:crypto; the browser only ever verifies (ledger/verify).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign,
  type KeyObject,
} from "node:crypto";
import { CryptoError } from "./errors.js";

/** Signature type bytes of signed-note. */
export const NOTE_TYPE_ED25519 = 0x01;
export const NOTE_TYPE_COSIGNATURE_V1 = 0x04;

// PKCS#8 DER prefix of an Ed25519 private key (RFC 8410 §7); the 32-byte seed follows.
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** A parsed signer key. */
export interface NoteKey {
  readonly name: string;
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** Creates a fresh key for `name` from 32 random bytes (injectable for tests). */
export function generateNoteKey(name: string, random: (n: number) => Uint8Array = randomBytes): NoteKey {
  assertKeyName(name);
  const seed = random(32);
  return { name, seed, publicKey: publicKeyOf(seed) };
}

/** Key ID for a name, signature type and public key. */
export function noteKeyId(name: string, type: number, publicKey: Uint8Array): number {
  const digest = createHash("sha256")
    .update(name)
    .update(Uint8Array.of(0x0a, type))
    .update(publicKey)
    .digest();
  return digest.readUInt32BE(0);
}

/** The signer key text of a key. */
export function formatSignerKey(key: NoteKey): string {
  const id = noteKeyId(key.name, NOTE_TYPE_ED25519, key.publicKey).toString(16).padStart(8, "0");
  const data = Buffer.concat([Uint8Array.of(NOTE_TYPE_ED25519), key.seed]).toString("base64");
  return `PRIVATE+KEY+${key.name}+${id}+${data}`;
}

/** The verifier key text for a key, as signature type 0x01 (log) or 0x04 (witness cosignature). */
export function formatNoteVerifierKey(key: NoteKey, type: number = NOTE_TYPE_ED25519): string {
  const id = noteKeyId(key.name, type, key.publicKey).toString(16).padStart(8, "0");
  return `${key.name}+${id}+${Buffer.concat([Uint8Array.of(type), key.publicKey]).toString("base64")}`;
}

/**
 * Parses a signer key text.
 * @throws CryptoError CRYPTO_KEY_INVALID
 */
export function parseSignerKey(text: string): NoteKey {
  const invalid = (reason: string): CryptoError =>
    new CryptoError("CRYPTO_KEY_INVALID", `署名鍵が正しくありません (${reason})`, { reason });
  const parts = text.trim().split("+");
  // The base64 part may itself contain "+", so rejoin what follows the fourth separator.
  if (parts.length < 5 || parts[0] !== "PRIVATE" || parts[1] !== "KEY") throw invalid("形式");
  const name = parts[2] ?? "";
  const idText = parts[3] ?? "";
  const data = Buffer.from(parts.slice(4).join("+"), "base64");
  assertKeyName(name);
  if (data.length !== 33 || data[0] !== NOTE_TYPE_ED25519) throw invalid("鍵データ");
  const seed = new Uint8Array(data.subarray(1));
  const publicKey = publicKeyOf(seed);
  if (noteKeyId(name, NOTE_TYPE_ED25519, publicKey).toString(16).padStart(8, "0") !== idText) {
    throw invalid("鍵ID");
  }
  return { name, seed, publicKey };
}

/** Signs a message with the key's Ed25519 seed (RFC 8032, deterministic). */
export function signEd25519(key: NoteKey, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, privateKeyObject(key.seed)));
}

function privateKeyObject(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
}

function publicKeyOf(seed: Uint8Array): Uint8Array {
  const spki = createPublicKey(privateKeyObject(seed)).export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

function assertKeyName(name: string): void {
  if (name.length === 0 || /[\s+]/u.test(name)) {
    throw new CryptoError("CRYPTO_KEY_INVALID", "鍵名は空でなく、空白と「+」を含めません", {});
  }
}
