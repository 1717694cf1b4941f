/**
 * C2SP signed-note verifier keys ("vkeys"): `<name>+<key ID as 8 hex digits>+base64(type ‖ public key)`,
 * the text form of golang.org/x/mod/sumdb/note. Key ID = SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4].
 * https://c2sp.org/signed-note#signatures (key IDs) · https://c2sp.org/tlog-cosignature (type 0x04)
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { LedgerError } from "../errors.js";
import { concatBytes, fromBase64, toBase64, utf8 } from "./encoding.js";

/** Signature type 0x01: Ed25519 over the note text (signed-note §Ed25519 signatures). */
export const SIG_TYPE_ED25519 = 0x01;
/** Signature type 0x04: timestamped Ed25519 witness cosignature (tlog-cosignature). */
export const SIG_TYPE_COSIGNATURE_V1 = 0x04;

export type SignatureType = typeof SIG_TYPE_ED25519 | typeof SIG_TYPE_COSIGNATURE_V1;

/** A parsed verifier key. */
export interface VerifierKey {
  readonly name: string;
  readonly keyId: number;
  readonly type: SignatureType;
  readonly publicKey: Uint8Array;
}

// Unicode White_Space characters, which signed-note forbids in key names, plus "+".
const FORBIDDEN_IN_NAME = /[\s\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000+]/u;

/** True when `name` is a valid key name: non-empty, no Unicode spaces, no "+". */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !FORBIDDEN_IN_NAME.test(name);
}

/** The 32-bit key ID of a (name, type, public key) triple, per signed-note. */
export function computeKeyId(name: string, type: number, publicKey: Uint8Array): number {
  const digest = sha256(concatBytes(utf8(name), Uint8Array.of(0x0a, type), publicKey));
  return (
    (((digest[0] ?? 0) << 24) | ((digest[1] ?? 0) << 16) | ((digest[2] ?? 0) << 8) | (digest[3] ?? 0)) >>> 0
  );
}

/** Formats a key ID as the 8 lower-case hex digits used in vkeys. */
export function keyIdHex(keyId: number): string {
  return keyId.toString(16).padStart(8, "0");
}

/**
 * Parses a vkey. Only Ed25519 (0x01) and Ed25519 cosignature (0x04) keys are supported, which is all this
 * log signs with; the key ID must be the one the spec derives.
 * @throws LedgerError LEDGER_VERIFIER_KEY_INVALID
 */
export function parseVerifierKey(text: string): VerifierKey {
  const invalid = (reason: string): LedgerError =>
    new LedgerError("LEDGER_VERIFIER_KEY_INVALID", `検証鍵が正しくありません (${reason})`, { reason });
  const first = text.indexOf("+");
  const second = first < 0 ? -1 : text.indexOf("+", first + 1);
  if (first < 0 || second < 0) throw invalid("形式");
  const name = text.slice(0, first);
  const idText = text.slice(first + 1, second);
  if (!isValidKeyName(name)) throw invalid("鍵名");
  if (!/^[0-9a-f]{8}$/.test(idText)) throw invalid("鍵ID");
  let raw: Uint8Array;
  try {
    raw = fromBase64(text.slice(second + 1), "verifier key");
  } catch (cause) {
    throw new LedgerError("LEDGER_VERIFIER_KEY_INVALID", "検証鍵の base64 が正しくありません", {}, { cause });
  }
  const type = raw[0];
  if (type !== SIG_TYPE_ED25519 && type !== SIG_TYPE_COSIGNATURE_V1) throw invalid("署名方式");
  const publicKey = raw.slice(1);
  if (publicKey.length !== 32) throw invalid("公開鍵の長さ");
  const keyId = computeKeyId(name, type, publicKey);
  if (keyIdHex(keyId) !== idText) throw invalid("鍵IDが公開鍵と一致しない");
  return { name, keyId, type, publicKey };
}

/** Formats a vkey (inverse of {@link parseVerifierKey}). */
export function formatVerifierKey(name: string, type: SignatureType, publicKey: Uint8Array): string {
  const keyId = computeKeyId(name, type, publicKey);
  return `${name}+${keyIdHex(keyId)}+${toBase64(concatBytes(Uint8Array.of(type), publicKey))}`;
}
