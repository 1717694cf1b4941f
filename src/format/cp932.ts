/**
 * A table-driven CP932 encoder for the standard CSV writer.
 *
 * Why not iconv-lite's encoder on the hot path: bench/convert showed it (and the byte counting it
 * forced, by encoding every non-ASCII field twice) as the largest single cost of a CP932 conversion.
 * Here one table lookup per UTF-16 unit gives the bytes, the byte length and "not representable"
 * together. The table is built once, from iconv-lite's own CP932 mapping, so the two agree by
 * construction (and a test checks it over the whole BMP).
 */
import iconv from "iconv-lite";

const UNENCODABLE = -1;
let table: Int32Array | undefined;

/** code unit → byte (0–255), two bytes (hi << 8 | lo, ≥ 256), or -1 when CP932 has no such character. */
export function cp932Table(): Int32Array {
  if (table) return table;
  const t = new Int32Array(0x10000).fill(UNENCODABLE);
  for (let u = 0; u < 0x10000; u++) {
    if (u >= 0xd800 && u <= 0xdfff) continue;
    const bytes = iconv.encode(String.fromCharCode(u), "cp932");
    if (bytes.length === 1 && (bytes[0] !== 0x3f || u === 0x3f)) t[u] = bytes[0] ?? UNENCODABLE;
    else if (bytes.length === 2) t[u] = ((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0);
  }
  table = t;
  return t;
}

/** Bytes of `text` in CP932, or undefined when a character has no CP932 form. */
export function encodeCp932(text: string): Buffer | undefined {
  const t = cp932Table();
  const out = Buffer.allocUnsafe(text.length * 2);
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    const v = t[text.charCodeAt(i)] ?? UNENCODABLE;
    if (v < 0) return undefined;
    if (v < 256) out[o++] = v;
    else {
      out[o++] = v >> 8;
      out[o++] = v & 0xff;
    }
  }
  return out.subarray(0, o);
}

/** Size of `text` in CP932 bytes, or -1 when a character has no CP932 form. */
export function cp932ByteLength(text: string): number {
  const t = cp932Table();
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const v = t[text.charCodeAt(i)] ?? UNENCODABLE;
    if (v < 0) return -1;
    n += v < 256 ? 1 : 2;
  }
  return n;
}

/**
 * CP932 decoding tables for the conversion engine's byte-level fast path, built once from iconv-lite's
 * own decoder so that the two agree by construction (a test checks every one- and two-byte sequence).
 * `single[b]`: the code unit of byte b alone, or -1 (a lead byte or an unassigned byte). `pair[lead << 8
 * | trail]`: the code unit of a two-byte character, or 0 when the pair is not one (iconv-lite then
 * writes U+FFFD for the lead byte and reads the trail byte again).
 */
export interface Cp932DecodeTables {
  readonly single: Int32Array;
  readonly pair: Uint16Array;
}

let decodeTables: Cp932DecodeTables | undefined;

export function cp932DecodeTables(): Cp932DecodeTables {
  if (decodeTables) return decodeTables;
  const single = new Int32Array(256).fill(UNENCODABLE);
  const pair = new Uint16Array(0x10000);
  const one = (bytes: number[]): number => {
    const text = iconv.decode(Buffer.from(bytes), "cp932");
    return text.length === 1 && text !== "\ufffd" ? text.charCodeAt(0) : UNENCODABLE;
  };
  for (let b = 0; b < 256; b++) single[b] = one([b]);
  for (let lead = 0x80; lead < 256; lead++) {
    if ((single[lead] ?? UNENCODABLE) >= 0) continue;
    for (let trail = 0; trail < 256; trail++) {
      const u = one([lead, trail]);
      if (u > 0) pair[(lead << 8) | trail] = u;
    }
  }
  decodeTables = { single, pair };
  return decodeTables;
}
