/**
 * File and record hashes (SHA-256, lower-case hex).
 *
 * - file hash: SHA-256 of the exact output bytes (`sha256sum standard.csv`);
 * - record hash: SHA-256 of one record's exact bytes in the output encoding, without its CRLF
 *   (`sed -n '2p' standard.csv | tr -d '\r\n' | sha256sum` for the first record when no field holds a
 *   line break; see README "Hashes").
 */
import { createHash } from "node:crypto";
import { splitCsvLines } from "./record-split.js";

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

const CODE_HEADER_START = Buffer.from("JLAC10,");

/**
 * Record hashes of a standard CSV (all lines after the header row, and after the code header row when
 * the file has one — a second line starting with `JLAC10,`), in record order.
 */
export function recordHashesOf(fileBytes: Uint8Array): string[] {
  const spans = splitCsvLines(fileBytes);
  const second = spans[1];
  const head = second === undefined ? undefined : fileBytes.subarray(second.start, second.end);
  const skip =
    head !== undefined && Buffer.from(head.subarray(0, CODE_HEADER_START.length)).equals(CODE_HEADER_START)
      ? 2
      : 1;
  return spans.slice(skip).map((s) => sha256Hex(fileBytes.subarray(s.start, s.end)));
}
