/**
 * C2SP signed notes: text ending in a newline, a blank line, then signature lines
 * "— <key name> base64(key ID ‖ signature)". https://c2sp.org/signed-note
 *
 * Verification follows the spec: signatures from unknown keys (name and ID not both matching) are ignored;
 * a signature from a known key that fails makes the whole note invalid; at least one known key must sign.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { LedgerError } from "../errors.js";
import { concatBytes, fromBase64, fromUtf8, toBase64, utf8 } from "./encoding.js";
import { SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519, type VerifierKey } from "./verifier-key.js";

/** Upper bound on signature lines; the spec requires accepting at least 16. */
export const MAX_NOTE_SIGNATURES = 100;
/** Upper bound on a note's size in bytes, checked before parsing. */
export const MAX_NOTE_BYTES = 1 << 20;

const EM_DASH_PREFIX = "\u2014 ";

/** One signature line of a note. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** Signature bytes after the 4-byte key ID. */
  readonly signature: Uint8Array;
}

/** A note split into its signed text and its signature lines (nothing verified yet). */
export interface ParsedNote {
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

/** A signature that verified, with the cosignature timestamp for type 0x04. */
export interface VerifiedSignature {
  readonly key: VerifierKey;
  readonly timestamp?: number;
}

/**
 * Splits a note into text and signatures.
 * @throws LedgerError LEDGER_NOTE_MALFORMED
 */
export function parseSignedNote(note: string): ParsedNote {
  const malformed = (reason: string): LedgerError =>
    new LedgerError("LEDGER_NOTE_MALFORMED", `署名付きノートの形式が正しくありません (${reason})`, {
      reason,
    });
  if (utf8(note).length > MAX_NOTE_BYTES) throw malformed("大きすぎる");
  // eslint-disable-next-line no-control-regex -- the spec forbids exactly these control characters
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) throw malformed("制御文字");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw malformed("空行がない");
  const text = note.slice(0, split + 1);
  const sigPart = note.slice(split + 2);
  if (!sigPart.endsWith("\n")) throw malformed("改行で終わっていない");
  const lines = sigPart.slice(0, -1).split("\n");
  if (lines.length > MAX_NOTE_SIGNATURES) throw malformed("署名が多すぎる");
  const signatures = lines.map((line) => {
    if (!line.startsWith(EM_DASH_PREFIX)) throw malformed("署名行");
    const rest = line.slice(EM_DASH_PREFIX.length);
    const space = rest.indexOf(" ");
    if (space <= 0) throw malformed("署名行");
    const name = rest.slice(0, space);
    let raw: Uint8Array;
    try {
      raw = fromBase64(rest.slice(space + 1), "signature");
    } catch (cause) {
      throw new LedgerError("LEDGER_NOTE_MALFORMED", "署名の base64 が正しくありません", {}, { cause });
    }
    if (raw.length < 5) throw malformed("署名が短すぎる");
    const keyId =
      (((raw[0] ?? 0) << 24) | ((raw[1] ?? 0) << 16) | ((raw[2] ?? 0) << 8) | (raw[3] ?? 0)) >>> 0;
    return { name, keyId, signature: raw.slice(4) };
  });
  return { text, signatures };
}

/**
 * Verifies a note against trusted keys and returns its text and the signatures that verified.
 * @throws LedgerError LEDGER_NOTE_MALFORMED, LEDGER_CHECKPOINT_SIGNATURE_INVALID (a known key's signature
 *   fails), LEDGER_CHECKPOINT_UNSIGNED (no known key signed)
 */
export function openSignedNote(
  note: string,
  keys: readonly VerifierKey[],
): { text: string; verified: VerifiedSignature[] } {
  const parsed = parseSignedNote(note);
  const textBytes = utf8(parsed.text);
  const verified: VerifiedSignature[] = [];
  for (const sig of parsed.signatures) {
    const key = keys.find((k) => k.name === sig.name && k.keyId === sig.keyId);
    if (key === undefined) continue;
    const result = verifySignatureBytes(key, textBytes, sig.signature);
    if (result === null) {
      const code =
        key.type === SIG_TYPE_COSIGNATURE_V1
          ? "LEDGER_COSIGNATURE_INVALID"
          : "LEDGER_CHECKPOINT_SIGNATURE_INVALID";
      throw new LedgerError(code, "信頼する鍵の署名が検証できません", { name: key.name });
    }
    verified.push(result);
  }
  if (verified.length === 0) {
    throw new LedgerError("LEDGER_CHECKPOINT_UNSIGNED", "信頼する鍵による署名がありません", {
      names: parsed.signatures.map((s) => s.name),
    });
  }
  return { text: parsed.text, verified };
}

/** Builds the cosigned message of tlog-cosignature §Ed25519 signed message. */
export function cosignatureMessage(timestamp: number, text: string): Uint8Array {
  return utf8(`cosignature/v1\ntime ${timestamp}\n${text}`);
}

/**
 * Verifies one signature line's bytes under `key` over the note text bytes: Ed25519 over the text for
 * type 0x01, a timestamped cosignature (tlog-cosignature) for type 0x04. Returns null when it fails.
 */
export function verifySignatureBytes(
  key: VerifierKey,
  text: Uint8Array,
  signature: Uint8Array,
): VerifiedSignature | null {
  if (key.type === SIG_TYPE_ED25519) {
    return signature.length === 64 && ed25519Verify(signature, text, key.publicKey) ? { key } : null;
  }
  // timestamped_signature: u64 big-endian timestamp ‖ 64-byte Ed25519 signature.
  if (signature.length !== 72) return null;
  const view = new DataView(signature.buffer, signature.byteOffset, 8);
  const timestamp = view.getBigUint64(0);
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  const ts = Number(timestamp);
  const message = cosignatureMessage(ts, fromUtf8(text));
  return ed25519Verify(signature.slice(8), message, key.publicKey) ? { key, timestamp: ts } : null;
}

function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    // zip215: false → strict RFC 8032 / FIPS 186-5 verification, as Go's crypto/ed25519 signs.
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** Appends one signature line to a note (signing itself happens outside the pure code). */
export function appendSignatureLine(
  note: string,
  name: string,
  keyId: number,
  signature: Uint8Array,
): string {
  const idBytes = Uint8Array.of(keyId >>> 24, (keyId >>> 16) & 255, (keyId >>> 8) & 255, keyId & 255);
  return `${note}\u2014 ${name} ${toBase64(concatBytes(idBytes, signature))}\n`;
}
