/**
 * Byte encodings used on the ledger's wire formats: lower-case hex for hashes in JSON, standard base64
 * (RFC 4648 §4, padded) for signed notes, and a constant-time comparison for digests. Pure: runs in the
 * browser as well as in Node.
 */
import { LedgerError } from "../errors.js";

const HEX_RE = /^(?:[0-9a-f]{2})*$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX_BYTE[bytes[i] as number] as string;
  return out;
}

/** "00" … "ff", so hex encoding is one table look-up per byte. */
const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Parses lower-case hex; anything else (odd length, upper case, other characters) is refused. */
export function fromHex(text: string, what = "hex"): Uint8Array {
  if (!HEX_RE.test(text)) {
    throw new LedgerError("LEDGER_ENCODING_INVALID", `${what} が小文字16進数ではありません`, { what });
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Standard padded base64 of bytes (RFC 4648 §4). */
export function toBase64(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i] ?? 0;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += B64.charAt((n >> 18) & 63) + B64.charAt((n >> 12) & 63);
    out += b === undefined ? "=" : B64.charAt((n >> 6) & 63);
    out += c === undefined ? "=" : B64.charAt(n & 63);
  }
  return out;
}

/**
 * Parses standard padded base64, refusing non-canonical encodings (stray characters, missing padding,
 * non-zero spare bits), so one byte string has exactly one accepted text form.
 */
export function fromBase64(text: string, what = "base64"): Uint8Array {
  if (!BASE64_RE.test(text)) {
    throw new LedgerError("LEDGER_ENCODING_INVALID", `${what} が base64 ではありません`, { what });
  }
  const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const ch = text.charAt(i + j);
      n = (n << 6) | (ch === "=" ? 0 : B64.indexOf(ch));
    }
    const bytes = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
    for (const b of bytes) if (o < out.length) out[o++] = b;
  }
  if (toBase64(out) !== text) {
    throw new LedgerError("LEDGER_ENCODING_INVALID", `${what} の base64 が正規形ではありません`, { what });
  }
  return out;
}

/**
 * Compares two byte strings in time that depends only on their lengths, so a verifier does not leak how
 * many leading bytes of a digest matched (sigstore-js compares digests the same way).
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** Concatenates byte strings. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decodes strict UTF-8 (invalid sequences are refused, not replaced). */
export function fromUtf8(bytes: Uint8Array, what = "text"): string {
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new LedgerError("LEDGER_ENCODING_INVALID", `${what} が UTF-8 ではありません`, { what }, { cause });
  }
}
