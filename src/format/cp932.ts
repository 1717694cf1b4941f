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

/**
 * code unit → byte (0–255), two bytes (hi << 8 | lo, ≥ 256), or -1 when CP932 has no such character.
 * Built with one iconv-lite call over the whole BMP, each character followed by LF (which no other
 * character's bytes contain: trail bytes are ≥ 0x40), so the output splits back into one byte sequence
 * per character — the same as encoding each character alone (checked over the BMP by cp932.test.ts),
 * at a fraction of the start-up cost.
 */
export function cp932Table(): Int32Array {
  if (table) return table;
  const t = new Int32Array(0x10000).fill(UNENCODABLE);
  const units: number[] = [];
  for (let u = 0; u < 0x10000; u++) {
    if ((u >= 0xd800 && u <= 0xdfff) || u === 0x0a) continue;
    units.push(u);
  }
  let text = "";
  for (let k = 0; k < units.length; k += 4096) {
    const part = units.slice(k, k + 4096);
    text += String.fromCharCode(...part.flatMap((u) => [u, 0x0a]));
  }
  const bytes = iconv.encode(text, "cp932");
  let at = 0;
  for (const u of units) {
    const start = at;
    while (at < bytes.length && bytes[at] !== 0x0a) at++;
    const n = at - start;
    const b0 = bytes[start] ?? 0;
    if (n === 1 && (b0 !== 0x3f || u === 0x3f)) t[u] = b0;
    else if (n === 2) t[u] = (b0 << 8) | (bytes[start + 1] ?? 0);
    at++;
  }
  t[0x0a] = 0x0a;
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
  decodeTables = buildDecodeTables();
  return decodeTables;
}

/**
 * The tables from two iconv-lite calls (start-up cost: it was one call per sequence, ≈ 15,000): each
 * sequence followed by LF, which no sequence swallows (trail bytes are ≥ 0x40; a lead byte before LF
 * gives U+FFFD and then the LF), so the text splits back into one piece per sequence — a piece that is
 * one character other than U+FFFD is that sequence's decoding, as iconv-lite gives it for the sequence
 * alone (cp932.test.ts compares every one- and two-byte sequence).
 */
function buildDecodeTables(): Cp932DecodeTables {
  const single = new Int32Array(256).fill(UNENCODABLE);
  const pair = new Uint16Array(0x10000);
  const decodeEach = (sequences: readonly number[][]): string[] => {
    const bytes = Buffer.from(sequences.flatMap((q) => [...q, 0x0a]));
    return iconv.decode(bytes, "cp932").split("\n");
  };
  const bytes = Array.from({ length: 256 }, (_, b) => b).filter((b) => b !== 0x0a);
  decodeEach(bytes.map((b) => [b])).forEach((text, k) => {
    if (k < bytes.length && text.length === 1 && text !== "\ufffd")
      single[bytes[k] ?? 0] = text.charCodeAt(0);
  });
  single[0x0a] = 0x0a;
  const pairs: number[][] = [];
  for (let lead = 0x80; lead < 256; lead++) {
    if ((single[lead] ?? UNENCODABLE) >= 0) continue;
    for (let trail = 0; trail < 256; trail++) if (trail !== 0x0a) pairs.push([lead, trail]);
  }
  decodeEach(pairs).forEach((text, k) => {
    const q = pairs[k];
    if (q !== undefined && text.length === 1 && text !== "\ufffd") {
      pair[((q[0] ?? 0) << 8) | (q[1] ?? 0)] = text.charCodeAt(0);
    }
  });
  return { single, pair };
}

/** The tables as built one iconv-lite call per sequence (the reference `buildDecodeTables` must equal). */
export function cp932DecodeTablesOneByOne(): Cp932DecodeTables {
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
  return { single, pair };
}
