/**
 * Splits the bytes of a standard CSV into its lines, so each record can be hashed exactly as written.
 *
 * Pure and encoding-independent (no Node imports: the browser's verify page uses it too). It works on
 * raw bytes because in both output encodings (UTF-8 and CP932) the bytes 0x22 ("), 0x0D and 0x0A only
 * ever stand for themselves: CP932 trail bytes are 0x40–0x7E and 0x80–0xFC.
 */

const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;

/** Byte range of one line, without its CRLF terminator. */
export interface LineSpan {
  readonly start: number;
  readonly end: number;
}

/**
 * Returns the spans of every line terminated by CRLF outside quotes, in order. A final line without a
 * terminator is included when non-empty. The first span of a standard CSV is its header row.
 */
export function splitCsvLines(bytes: Uint8Array): LineSpan[] {
  const spans: LineSpan[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === QUOTE) {
      quoted = !quoted;
    } else if (!quoted && b === CR && bytes[i + 1] === LF) {
      spans.push({ start, end: i });
      start = i + 2;
      i++;
    }
  }
  if (start < bytes.length) spans.push({ start, end: bytes.length });
  return spans;
}
