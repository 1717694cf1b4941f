/**
 * Output encodings of the standard CSV: UTF-8 (default) or CP932 on request. Byte limits are counted
 * in the output encoding, because the standard's 512-byte limit is a byte limit.
 */
import iconv from "iconv-lite";

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

/** Replaces characters that CP932 writes under another code point; other text is unchanged. */
export function toCp932Forms(text: string): string {
  return text.replace(CP932_VARIANT_PATTERN, (c) => CP932_VARIANTS.get(c) ?? c);
}

/** Encodes text in the output encoding. */
export function encodeText(text: string, encoding: OutputEncoding): Buffer {
  return encoding === "utf-8" ? Buffer.from(text, "utf8") : iconv.encode(text, "cp932");
}

/**
 * Size of `text` in bytes in the output encoding, or -1 when CP932 cannot represent it (iconv-lite
 * would silently write "?": we detect that by counting question marks).
 */
export function encodedByteLength(text: string, encoding: OutputEncoding): number {
  if (ASCII_ONLY.test(text)) return text.length;
  if (encoding === "utf-8") return Buffer.byteLength(text, "utf8");
  const bytes = iconv.encode(text, "cp932");
  let questionMarksOut = 0;
  for (const b of bytes) if (b === 0x3f) questionMarksOut++;
  let questionMarksIn = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 0x3f) questionMarksIn++;
  return questionMarksOut === questionMarksIn ? bytes.length : -1;
}
