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

/** Record hashes of a standard CSV (all lines after the header row), in record order. */
export function recordHashesOf(fileBytes: Uint8Array): string[] {
  const spans = splitCsvLines(fileBytes);
  return spans.slice(1).map((s) => sha256Hex(fileBytes.subarray(s.start, s.end)));
}
