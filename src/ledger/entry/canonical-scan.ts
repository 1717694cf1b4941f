/**
 * A one-pass check, over the bytes, that a stored entry is already in RFC 8785 (JCS) form — for the
 * usual entry, so that decoding (fsck reads every entry) need not write the parsed value back out with
 * `JSON.stringify` and compare (≈ 6 × the cost of this scan per entry).
 *
 * It answers `true` only for text that is plain: ASCII, no backslash (so every string is its own JCS
 * form: `JSON.stringify` escapes nothing in it), nothing outside strings but the JSON punctuation,
 * `true`/`false`/`null` and integers of at most 15 digits without a leading zero or a minus zero (so
 * each number is written exactly as ECMAScript writes its value), and every object's keys strictly
 * ascending (byte order is UTF-16 code-unit order for ASCII; strictly, so no duplicate key). Such text,
 * **if it parses as JSON**, is the JCS form of what it parses to. The caller still parses it (this scan
 * does not check the grammar: `tru` or `{"a" 1}` may pass it and are refused by `JSON.parse`).
 *
 * `false` decides nothing: escapes, non-ASCII text, fractions and exponents, deep nesting, whitespace go
 * to the full comparison (`canonical-json.ts`), which gives the answer. `canonical-scan.test.ts`
 * compares both on generated values.
 */

/** Objects nested deeper than this are left to the full comparison. */
const MAX_DEPTH = 62;
/** More digits than this can name an integer ECMAScript writes otherwise (2^53 has 16 digits). */
const MAX_DIGITS = 15;

// Per depth: is it an object, and where its last key started and ended (reused: single-threaded).
const isObject = new Uint8Array(MAX_DEPTH + 2);
const keyStart = new Int32Array(MAX_DEPTH + 2);
const keyEnd = new Int32Array(MAX_DEPTH + 2);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;

/** True when `bytes`, if they are JSON, are the JCS form of their value (see above); false: undecided. */
export function isPlainCanonical(bytes: Uint8Array): boolean {
  const n = bytes.length;
  let depth = 0;
  let key = false;
  let i = 0;
  while (i < n) {
    const c = bytes[i] as number;
    if (c === QUOTE) {
      const start = i + 1;
      let j = start;
      for (;;) {
        if (j >= n) return false;
        const d = bytes[j] as number;
        if (d === QUOTE) break;
        if (d === BACKSLASH || d >= 0x80) return false;
        j++;
      }
      if (key) {
        const last = keyStart[depth] as number;
        if (last >= 0 && !ascending(bytes, last, keyEnd[depth] as number, start, j)) return false;
        keyStart[depth] = start;
        keyEnd[depth] = j;
        key = false;
      }
      i = j + 1;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (depth >= MAX_DEPTH) return false;
      depth++;
      const object = c === 0x7b;
      isObject[depth] = object ? 1 : 0;
      keyStart[depth] = -1;
      key = object;
      i++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
      key = false;
      i++;
    } else if (c === 0x2c /* , */) {
      key = isObject[depth] === 1;
      i++;
    } else if (c === 0x3a /* : */) {
      i++;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      let j = c === MINUS ? i + 1 : i;
      const first = bytes[j];
      if (first === ZERO) {
        if (c === MINUS) return false;
        j++;
      } else {
        if (first === undefined || first < 0x31 || first > NINE) return false;
        const digitsFrom = j;
        while (j < n && (bytes[j] as number) >= ZERO && (bytes[j] as number) <= NINE) j++;
        if (j - digitsFrom > MAX_DIGITS) return false;
      }
      const after = bytes[j];
      if (after === 0x2e /* . */ || after === 0x65 /* e */ || after === 0x45 /* E */) return false;
      i = j;
    } else if (c === 0x74 /* t */ || c === 0x6e /* n */) {
      i += 4;
    } else if (c === 0x66 /* f */) {
      i += 5;
    } else {
      return false;
    }
  }
  return true;
}

/** Whether bytes [a, aEnd) sort strictly before [b, bEnd). */
function ascending(bytes: Uint8Array, a: number, aEnd: number, b: number, bEnd: number): boolean {
  for (;;) {
    if (b === bEnd) return false;
    if (a === aEnd) return true;
    const x = bytes[a] as number;
    const y = bytes[b] as number;
    if (x !== y) return x < y;
    a++;
    b++;
  }
}
