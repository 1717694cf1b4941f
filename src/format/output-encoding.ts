/**
 * Output encodings of the standard CSV: UTF-8 (default) or CP932 on request. Byte limits are counted
 * in the output encoding, because the standard's 512-byte limit is a byte limit.
 */
import { cp932ByteLength, encodeCp932 } from "./cp932.js";

export const OUTPUT_ENCODINGS = ["utf-8", "cp932"] as const;
export type OutputEncoding = (typeof OUTPUT_ENCODINGS)[number];

// eslint-disable-next-line no-control-regex -- the whole ASCII range, control characters included
const ASCII_ONLY = /^[\x00-\x7f]*$/;

/**
 * Unicode characters that CP932 spells with a different code point (the classic JIS X 0208 vs
 * Microsoft mapping split): the Windows form is the one CP932 can encode, so we write that.
 */
const CP932_VARIANTS: ReadonlyMap<string, string> = new Map([
  ["\u301c", "\uff5e"], // 〜 WAVE DASH → ～
  ["\u2212", "\uff0d"], // − MINUS SIGN → －
  ["\u2016", "\u2225"], // ‖ → ∥
  ["\u2014", "\u2015"], // — EM DASH → ―
  ["\u00a2", "\uffe0"], // ¢ → ￠
  ["\u00a3", "\uffe1"], // £ → ￡
  ["\u00ac", "\uffe2"], // ¬ → ￢
]);
const CP932_VARIANT_PATTERN = /[\u301c\u2212\u2016\u2014\u00a2\u00a3\u00ac]/g;
const HAS_CP932_VARIANT = /[\u301c\u2212\u2016\u2014\u00a2\u00a3\u00ac]/;

/** Replaces characters that CP932 writes under another code point; other text is unchanged. */
export function toCp932Forms(text: string): string {
  // test() first: almost no cell has one, and replace() with a global pattern always allocates.
  return HAS_CP932_VARIANT.test(text)
    ? text.replace(CP932_VARIANT_PATTERN, (c) => CP932_VARIANTS.get(c) ?? c)
    : text;
}

/**
 * Encodes text in the output encoding. Text must have passed `encodedByteLength` for CP932; a
 * character without a CP932 form here is a programming error.
 */
export function encodeText(text: string, encoding: OutputEncoding): Buffer {
  if (encoding === "utf-8") return Buffer.from(text, "utf8");
  const bytes = encodeCp932(text);
  if (!bytes) throw new RangeError("text has characters CP932 cannot represent");
  return bytes;
}

/** Size of `text` in bytes in the output encoding, or -1 when CP932 cannot represent it. */
export function encodedByteLength(text: string, encoding: OutputEncoding): number {
  if (ASCII_ONLY.test(text)) return text.length;
  return encoding === "utf-8" ? Buffer.byteLength(text, "utf8") : cp932ByteLength(text);
}
