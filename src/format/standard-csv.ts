/**
 * The standard record and its CSV form (our documented layout; the official column order is licensed).
 *
 * - One header row (and, when asked, a second one with each item's JLAC10 code), then one record per
 *   examinee × visit.
 * - For every dictionary item, in 項番 order, two columns: the value (a standard term, number, date
 *   YYYYMMDD or text) and `<標準名称>(原本値)`, the value as the source wrote it, filled only where
 *   conversion changed it. Several values in one field are joined with 「、」.
 * - RFC 4180 quoting, CRLF after every line including the last, UTF-8 without BOM or CP932.
 * - Record hash: SHA-256 of one record's bytes without CRLF; file hash: SHA-256 of the whole file.
 */
import { createHash } from "node:crypto";
import type { Dictionary } from "./dictionary.js";
import { quoteCell } from "./csv-cell.js";
import { encodeText, type OutputEncoding } from "./output-encoding.js";

/** Joiner for several values in one field (the standard's Japanese comma). */
export const VALUE_JOINER = "、";
/** Suffix of the column that keeps the source value where conversion changed it. */
export const ORIGINAL_SUFFIX = "(原本値)";
export const CRLF = "\r\n";
/** First cell of the optional code header row. */
export const CODE_HEADER_LABEL = "JLAC10";

/** One standard record: values and originals by dictionary item index ("" = empty). */
export interface StandardRecord {
  readonly values: string[];
  readonly originals: string[];
}

export function emptyRecord(dictionary: Dictionary): StandardRecord {
  const n = dictionary.items.length;
  return { values: new Array<string>(n).fill(""), originals: new Array<string>(n).fill("") };
}

/** Header cells in column order. */
export function headerCells(dictionary: Dictionary): string[] {
  const cells: string[] = [];
  for (const item of dictionary.items) cells.push(item.name, item.name + ORIGINAL_SUFFIX);
  return cells;
}

/** Encodes one CSV line (without terminator) from cells. Cells must already be final (neutralised). */
export function encodeLine(cells: readonly string[], encoding: OutputEncoding): Buffer {
  let line = "";
  for (let i = 0; i < cells.length; i++) {
    if (i > 0) line += ",";
    line += quoteCell(cells[i] ?? "");
  }
  return encodeText(line, encoding);
}

/**
 * The optional code header row: its first cell is the label `JLAC10` (so programs — and
 * `recordHashesOf` — tell it from a record, whose first cell is an institution number), then under
 * each value column the item's JLAC10 17-character code (empty where the standard defines none), under
 * each original column nothing. It is a header, not a record: it has no record hash.
 */
export function codeHeaderCells(dictionary: Dictionary): string[] {
  const cells: string[] = [];
  for (const item of dictionary.items) cells.push(item.jlac10 ?? "", "");
  if (cells.length > 0) cells[0] = CODE_HEADER_LABEL;
  return cells;
}

/** The header row's bytes, with CRLF. */
export function encodeHeader(
  dictionary: Dictionary,
  encoding: OutputEncoding,
  options: { readonly codeHeader?: boolean } = {},
): Buffer {
  const lines = [encodeLine(headerCells(dictionary), encoding), Buffer.from(CRLF)];
  if (options.codeHeader === true)
    lines.push(encodeLine(codeHeaderCells(dictionary), encoding), Buffer.from(CRLF));
  return Buffer.concat(lines);
}

/** A record's bytes (without CRLF) and their SHA-256. */
export function encodeRecord(
  record: StandardRecord,
  encoding: OutputEncoding,
): { readonly bytes: Buffer; readonly hash: string } {
  const n = record.values.length;
  let line = "";
  for (let i = 0; i < n; i++) {
    if (i > 0) line += ",";
    line += quoteCell(record.values[i] ?? "");
    line += ",";
    line += quoteCell(record.originals[i] ?? "");
  }
  const bytes = encodeText(line, encoding);
  return { bytes, hash: createHash("sha256").update(bytes).digest("hex") };
}
