/**
 * Worker thread of a parallel conversion (parallel-convert.ts): converts one byte range of the export
 * with the engine, writes the output to its own file and posts the summary back.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { parentPort, workerData } from "node:worker_threads";
import type { OutputEncoding } from "../format/output-encoding.js";
import { prepareMapping } from "./convert-file.js";
import { convert, type ConvertSummary } from "./engine.js";
import type { SourceEncoding } from "./source-decoder.js";

export interface WorkerJob {
  readonly mappingPath: string;
  readonly dictionaryPath: string | undefined;
  readonly thesaurusPath: string | undefined;
  readonly inputPath: string;
  /** Byte range [start, end) of the input. */
  readonly start: number;
  readonly end: number;
  readonly encoding: OutputEncoding;
  readonly sourceEncoding: SourceEncoding;
  readonly outPath: string;
  /** undefined: the first range (reads the header itself). */
  readonly resume: { readonly headerNames: readonly string[] | null; readonly firstLine: number } | undefined;
  /** The range must end between two rows. */
  readonly endBetweenRows: boolean;
}

/** A summary as posted back: the digests as bytes, no hex strings (they would be cloned one by one). */
export type WorkerSummary = Omit<ConvertSummary, "recordHashes">;

export type WorkerResult =
  | { readonly ok: true; readonly summary: WorkerSummary }
  | { readonly ok: false; readonly code: string | undefined; readonly message: string };

async function run(job: WorkerJob): Promise<WorkerResult> {
  const prepared = await prepareMapping({
    mappingPath: job.mappingPath,
    dictionaryPath: job.dictionaryPath,
    thesaurusPath: job.thesaurusPath,
  });
  const base = prepared.checked;
  // The encoding the whole file was detected as, so a range does not detect on its own.
  const checked = {
    ...base,
    mapping: { ...base.mapping, source: { ...base.mapping.source, encoding: job.sourceEncoding } },
  } as typeof base;
  const out = await open(job.outPath, "w", 0o600);
  try {
    const input =
      job.end > job.start
        ? createReadStream(job.inputPath, { start: job.start, end: job.end - 1, highWaterMark: 1 << 20 })
        : [];
    const summary = await convert(
      input,
      {
        releasesChunks: true,
        write: async (chunk) => {
          await out.write(chunk);
        },
      },
      {
        checked,
        encoding: job.encoding,
        range: {
          ...(job.resume ? { resume: job.resume } : {}),
          writeHeader: job.resume === undefined,
          endBetweenRows: job.endBetweenRows,
        },
      },
    );
    const posted: WorkerSummary = {
      input: summary.input,
      output: summary.output,
      counts: summary.counts,
      issues: summary.issues,
      issuesTotal: summary.issuesTotal,
      issuesTruncated: summary.issuesTruncated,
      issueCounts: summary.issueCounts,
      recordDigests: summary.recordDigests,
      ...(summary.keyJoin ? { keyJoin: summary.keyJoin } : {}),
    };
    return { ok: true, summary: posted };
  } catch (error) {
    const e = error as { code?: unknown; message?: unknown };
    return {
      ok: false,
      code: typeof e.code === "string" ? e.code : undefined,
      message: typeof e.message === "string" ? e.message : String(error),
    };
  } finally {
    await out.close();
  }
}

if (parentPort) {
  const port = parentPort;
  void run(workerData as WorkerJob).then((result) => {
    // The digests and key tables move to the main thread instead of being copied.
    // (Each of these arrays owns its buffer: none is a view into Node's shared Buffer pool.)
    const transfer = new Set<ArrayBuffer>();
    if (result.ok) {
      const s = result.summary;
      const k = s.keyJoin;
      const arrays: ArrayBufferView[] = [s.recordDigests];
      if (k)
        arrays.push(k.table.arena, k.table.entries, k.ordinal, k.offset, k.length, k.issueAt, k.duplicates);
      for (const a of arrays) transfer.add(a.buffer as ArrayBuffer);
    }
    port.postMessage(result, [...transfer]);
  });
}
