/**
 * The byte-level pieces of `compiled-bytes-check.ts`: scanning **plain** canonical JSON (RFC 8785) text in
 * place — strings of printable ASCII without backslash, integers as ECMAScript writes them (at most 15
 * digits), `true` / `false` / `null`, objects whose keys are strictly ascending. Each scanner takes the
 * bytes, an offset and the length, and returns the offset after what it read, or -1 when the text there
 * is not plain canonical JSON (which decides nothing: the caller leaves it to `decodeEntry`).
 * https://www.rfc-editor.org/rfc/rfc8785
 */

/** Byte values of the JSON punctuation and digits the scanners meet. */
export const QUOTE = 0x22;
const BACKSLASH = 0x5c;
export const COLON = 0x3a;
export const COMMA = 0x2c;
export const OPEN_OBJECT = 0x7b;
export const CLOSE_OBJECT = 0x7d;
export const OPEN_ARRAY = 0x5b;
export const CLOSE_ARRAY = 0x5d;
export const MINUS = 0x2d;
export const ZERO = 0x30;
const NINE = 0x39;
/** More digits than this can name an integer ECMAScript writes otherwise (2^53 has 16 digits). */
const MAX_DIGITS = 15;
/** Nesting deeper than this in free-form values is left undecided. */
const MAX_DEPTH = 32;

/** Any plain canonical JSON value (a member whose schema is known only once the type is: skipped, checked later). */
export function skipValue(b: Buffer, i: number, n: number, depth: number): number {
  const c = b[i];
  if (c === QUOTE) return scanPlainString(b, i, n);
  if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
    if (depth >= MAX_DEPTH) return -1;
    const object = c === OPEN_OBJECT;
    const close = object ? CLOSE_OBJECT : CLOSE_ARRAY;
    i++;
    if (b[i] === close) return i + 1;
    let lastKey = -1;
    let lastKeyEnd = -1;
    for (;;) {
      if (object) {
        if (b[i] !== QUOTE) return -1;
        const keyEnd = scanPlainString(b, i, n);
        if (keyEnd < 0 || (lastKey >= 0 && !ascending(b, lastKey, lastKeyEnd, i, keyEnd))) return -1;
        lastKey = i;
        lastKeyEnd = keyEnd;
        if (b[keyEnd] !== COLON) return -1;
        i = keyEnd + 1;
      }
      i = skipValue(b, i, n, depth + 1);
      if (i < 0) return -1;
      if (b[i] === COMMA) i++;
      else if (b[i] === close) return i + 1;
      else return -1;
    }
  }
  if (c === 0x74 /* t */) return matchAt(b, i, n, TRUE);
  if (c === 0x66 /* f */) return matchAt(b, i, n, FALSE);
  if (c === 0x6e /* n */) return matchAt(b, i, n, NULL);
  return scanInteger(b, i, n);
}

const TRUE = ascii("true");
const FALSE = ascii("false");
const NULL = ascii("null");

/** The offset after `text` if the bytes at `i` are `text`, else -1. */
export function matchAt(b: Buffer, i: number, n: number, text: Uint8Array): number {
  if (i + text.length > n) return -1;
  for (let k = 0; k < text.length; k++) if (b[i + k] !== text[k]) return -1;
  return i + text.length;
}

/**
 * A string from its opening quote at `i`: printable ASCII only (0x20–0x7f), no backslash. Returns the
 * offset after the closing quote, or -1.
 */
export function scanPlainString(b: Buffer, i: number, n: number): number {
  for (let j = i + 1; j < n; j++) {
    const d = b[j] as number;
    if (d === QUOTE) return j + 1;
    if (d === BACKSLASH || d < 0x20 || d >= 0x80) return -1;
  }
  return -1;
}

/** An integer as ECMAScript writes it (no leading zero, no -0, ≤ 15 digits) and not followed by . e E. */
export function scanInteger(b: Buffer, i: number, n: number): number {
  let j = b[i] === MINUS ? i + 1 : i;
  const first = b[j];
  if (first === undefined || first < ZERO || first > NINE) return -1;
  if (first === ZERO) {
    if (j !== i) return -1;
    j++;
  } else {
    const from = j;
    while (j < n && (b[j] as number) >= ZERO && (b[j] as number) <= NINE) j++;
    if (j - from > MAX_DIGITS) return -1;
  }
  const after = b[j];
  if (after === 0x2e /* . */ || after === 0x65 /* e */ || after === 0x45 /* E */) return -1;
  if (after !== undefined && after >= ZERO && after <= NINE) return -1; // "01"
  return j;
}

export function isLowerHex64(b: Buffer, from: number, length: number): boolean {
  if (length !== 64) return false;
  for (let j = from; j < from + 64; j++) {
    const d = b[j] as number;
    if (!((d >= ZERO && d <= NINE) || (d >= 0x61 && d <= 0x66))) return false;
  }
  return true;
}

/** Whether the string at [a, aEnd) sorts strictly before the one at [c, cEnd) (quotes included). */
function ascending(b: Buffer, a: number, aEnd: number, c: number, cEnd: number): boolean {
  // Compare the contents; the closing quote (0x22) sorts below every other plain byte, as "end" should.
  for (a++, c++; ; a++, c++) {
    if (c === cEnd - 1) return false;
    if (a === aEnd - 1) return true;
    const x = b[a] as number;
    const y = b[c] as number;
    if (x !== y) return x < y;
  }
}

/** Whether the quoted key at [i, end) is `name` (given without quotes). */
export function keyIs(b: Buffer, i: number, end: number, name: Uint8Array | null): boolean {
  if (name === null || end - i - 2 !== name.length) return false;
  for (let k = 0; k < name.length; k++) if (b[i + 1 + k] !== name[k]) return false;
  return true;
}

/** Printable ASCII without quote or backslash: its own JCS form between quotes. */
export function isPlain(text: string): boolean {
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c < 0x20 || c >= 0x80 || c === QUOTE || c === BACKSLASH) return false;
  }
  return true;
}

export function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}
