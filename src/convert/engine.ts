/**
 * The conversion engine (what POST.ex does): an institution's export, streamed, through its mapping,
 * into standard CSV bytes, an issue report, the file hash and one hash per record.
 *
 * Streaming: input is read chunk by chunk and output is flushed to the sink as it is produced, so
 * memory stays flat for wide exports of any size. Long exports are grouped per visit in memory unless
 * the mapping declares them sorted (see pivot.ts).
 *
 * Counts always reconcile: rowsIn = rowsUsed + rowsRejected + rowsIgnored, and for wide exports
 * rowsUsed = recordsOut.
 *
 * Where the work is: conversion-run.ts (bytes → rows → records), record-output.ts (records → output
 * bytes, hashes, duplicate keys), convert-types.ts (options and summary).
 */
import { createHash } from "node:crypto";
import { encodeHeader } from "../format/standard-csv.js";
import { ConversionRun } from "./conversion-run.js";
import type { ConvertOptions, ConvertSummary, OutputSink } from "./convert-types.js";
import { withRecordHashes } from "./record-digests.js";

export type {
  ConvertCounts,
  ConvertOptions,
  ConvertProgress,
  ConvertSummary,
  OutputSink,
} from "./convert-types.js";

/**
 * Converts one export. Fatal problems (bad header, unknown columns, encoding mismatch) throw
 * ConvertError before any record is written; row problems become issues.
 */
export async function convert(
  input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  sink: OutputSink,
  options: ConvertOptions,
): Promise<ConvertSummary> {
  const run = new ConversionRun(options);
  const output = run.output;
  // A range of a parallel run is not hashed: the file and the joined output are hashed whole by the
  // caller (parallel-convert.ts), and a half's hash would be of no use. Its summary says "" for both.
  const inputHash = options.range === undefined ? createHash("sha256") : undefined;
  let bytesRead = 0;
  if (options.range?.writeHeader !== false)
    output.push(
      encodeHeader(options.checked.dictionary, options.encoding, { codeHeader: options.codeHeader === true }),
    );
  for await (const chunk of input) {
    inputHash?.update(chunk);
    bytesRead += chunk.length;
    run.feed(chunk);
    await output.flush(sink, false);
    options.onProgress?.({ bytesRead, rowsIn: run.counts.rowsIn, recordsOut: run.counts.recordsOut });
  }
  run.end();
  await output.flush(sink, true);
  const keyJoin = output.keyJoin;
  return withRecordHashes(
    {
      input: { bytes: bytesRead, sha256: inputHash?.digest("hex") ?? "", encoding: run.decoder.encoding },
      output: {
        bytes: output.outputBytes,
        sha256: output.outputHash?.digest("hex") ?? "",
        encoding: options.encoding,
      },
      counts: run.counts,
      issues: run.log.kept,
      issuesTotal: run.log.total,
      issuesTruncated: run.log.truncated,
      issueCounts: run.log.counts,
      ...(keyJoin ? { keyJoin } : {}),
    },
    output.digests.bytes(),
  );
}
