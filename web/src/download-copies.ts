/**
 * What the receiver saves: the standard CSV exactly as sent (its hash verifies), or a copy for Excel on
 * Japanese Windows — Shift_JIS (CP932) or UTF-8 with a byte-order mark — and a file name that says
 * whose file it is: 「健診結果_<送信元>_<送信先>_<日付>.csv」 instead of an internal ID.
 */
import { encodeCp932, encodeUtf8Bom } from "./cp932-encode.js";

export type DownloadFormat = "standard" | "cp932" | "utf8-bom";
export const DOWNLOAD_FORMATS: readonly DownloadFormat[] = ["standard", "cp932", "utf8-bom"];

/** The text of a standard CSV: UTF-8 when it is valid UTF-8, else CP932 (a mapping may ask for it). */
export function decodeStandard(bytes: Uint8Array): { text: string; encoding: "utf-8" | "cp932" } {
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), encoding: "utf-8" };
  } catch {
    return { text: new TextDecoder("shift_jis").decode(bytes), encoding: "cp932" };
  }
}

/** The bytes to save in `format`, or undefined when CP932 cannot hold a character of the file. */
export function copyFor(bytes: Uint8Array, format: DownloadFormat): Uint8Array | undefined {
  if (format === "standard") return bytes;
  const { text, encoding } = decodeStandard(bytes);
  if (format === "cp932") return encoding === "cp932" ? bytes : encodeCp932(text);
  return encodeUtf8Bom(text);
}

// Characters Windows refuses in file names, control characters and spaces.
// eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
const UNSAFE_IN_NAME = /[\\/:*?"<>|\u0000-\u001f\u007f\s]+/g;

function namePart(text: string): string {
  const cleaned = text.replace(UNSAFE_IN_NAME, "_").replace(/^_+|_+$/g, "");
  const segments = Array.from(
    new Intl.Segmenter("ja", { granularity: "grapheme" }).segment(cleaned),
    (g) => g.segment,
  );
  return segments.slice(0, 40).join("") || "_";
}

/** 「健診結果_さくら健診センター_協会けんぽ_20260603.csv」 (and 「…_Excel用.csv」 for a copy). */
export function downloadFileName(o: {
  readonly prefix: string;
  readonly sender: string;
  readonly receiver: string;
  /** yyyymmdd */
  readonly date: string;
  readonly suffix?: string;
}): string {
  const parts = [o.prefix, namePart(o.sender), namePart(o.receiver), o.date];
  if (o.suffix !== undefined) parts.push(o.suffix);
  return `${parts.join("_")}.csv`;
}
