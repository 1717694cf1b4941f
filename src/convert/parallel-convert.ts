/**
 * Converting a large export file on both cores: the file is cut in two at a line break, each half is
 * converted by the engine in its own worker thread (convert-worker.ts), and the halves are joined —
 * output bytes, record hashes, issues (the first N in file order), counts — into exactly what one
 * sequential run gives. The main thread meanwhile hashes the input.
 *
 * Why this is exact: the second half starts with the header names and the line number the first half
 * would have reached, and the first half must end between two rows (not inside a quoted field that
 * spans lines); when it does not, or anything else is unusual (a small file, a long layout, an encoding
 * the fast path cannot read, any error), the caller converts sequentially, which also gives any fatal
 * error exactly as before. What does not apply (the file's shape) is silent; what was tried and failed
 * (a worker's error, the cut inside a row) comes back as `fallback` with its code, and the caller tells
 * the user who asked for two threads why one did the work. Rows of a wide export are independent of each other except for duplicate
 * record keys: each half finds its own, and the join (key-join.ts) rejects the second half's records
 * whose key the first half wrote, as one run would. (`duplicates: merge` holds every record to the end
 * of the file: such a mapping is converted sequentially.) A test (test/cli.int.test.ts) compares both
 * ways on the same file.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { OutputEncoding } from "../format/output-encoding.js";
import { fastPathApplies } from "./byte-rows.js";
import type { WorkerJob, WorkerResult, WorkerSummary } from "./convert-worker.js";
import { joinKeys, type KeyJoin } from "./key-join.js";
import { planRecordRules } from "./record-rules.js";
import { withRecordHashes } from "./record-digests.js";
import { convert, type ConvertCounts, type ConvertSummary, type OutputSink } from "./engine.js";
import type { IssueCount } from "./issue-log.js";
import type { IssueCode } from "./issues.js";
import type { CheckedMapping } from "./mapping-check.js";
import type { SourceEncoding } from "./source-decoder.js";

/** Below this, one thread is as fast (worker start-up costs ~0.2 s). */
const MIN_PARALLEL_BYTES = 4 << 20;
/** The header must be read within this many bytes (else: sequential). */
const PROBE_BYTES = 1 << 20;
const MAX_ISSUES = 100_000;
const WORKER_URL = new URL("./convert-worker.js", import.meta.url);

export interface ParallelInput {
  readonly inputPath: string;
  readonly checked: CheckedMapping;
  readonly mappingPath: string;
  readonly dictionaryPath: string | undefined;
  readonly thesaurusPath: string | undefined;
  readonly encoding: OutputEncoding;
}

/** Why two threads were asked for and one did the work: a code and a message for people. */
export interface ParallelFallback {
  /** The worker's own error code (e.g. CONVERT_SPLIT_MID_ROW), or CONVERT_PARALLEL_FAILED. */
  readonly code: string;
  readonly message: string;
}

/**
 * What the parallel attempt gave: the summary (output written to the sink), or nothing — `fallback`
 * undefined when two threads do not apply to this file (small, long layout, …), else why they failed.
 * Either way without a summary the caller converts sequentially; nothing has been written to the sink.
 */
export type ParallelOutcome =
  | { readonly summary: ConvertSummary; readonly fallback?: undefined }
  | { readonly summary?: undefined; readonly fallback: ParallelFallback | undefined };

const NOT_APPLICABLE: ParallelOutcome = { fallback: undefined };

/** Converts on two threads. Output goes to `sink` only when the whole run succeeded. */
export async function convertInParallel(o: ParallelInput, sink: OutputSink): Promise<ParallelOutcome> {
  const src = o.checked.mapping.source;
  if (o.checked.long || !fastPathApplies(src.delimiter, src.quote === "none" ? null : src.quote))
    return NOT_APPLICABLE;
  // Merged duplicates (duplicate-keys.ts) are written at the end of the file: not split.
  if (o.checked.mapping.duplicates === "merge" && planRecordRules(o.checked).keyIndices.length > 0)
    return NOT_APPLICABLE;
  const size = (await stat(o.inputPath)).size;
  if (size < MIN_PARALLEL_BYTES) return NOT_APPLICABLE;
  // Running from sources (tests) there is no worker script; in an installed CLI it is a broken install.
  if (!existsSync(fileURLToPath(WORKER_URL)))
    return failed(
      "CONVERT_PARALLEL_FAILED",
      `並行変換のスクリプトがありません: ${fileURLToPath(WORKER_URL)}`,
    );
  // Undefined: a header the engine cannot read (a fatal error the sequential run gives exactly as
  // before) or an encoding whose bytes are not lines (UTF-16).
  const header = await probeHeader(o);
  if (header === undefined) return NOT_APPLICABLE;
  const split = await lineStartNear(o.inputPath, Math.floor(size / 2));
  if (split === undefined || split <= header.dataStart) return NOT_APPLICABLE;
  const firstLine = (await lineBreaksBefore(o.inputPath, split)) + 1;

  const dir = await mkdtemp(join(tmpdir(), "kenshin-convert-"));
  try {
    const job = (start: number, end: number, outPath: string, resume: WorkerJob["resume"]): WorkerJob => ({
      mappingPath: o.mappingPath,
      dictionaryPath: o.dictionaryPath,
      thesaurusPath: o.thesaurusPath,
      inputPath: o.inputPath,
      start,
      end,
      encoding: o.encoding,
      sourceEncoding: header.encoding,
      outPath,
      resume,
      endBetweenRows: resume === undefined,
    });
    const [first, second, input] = await Promise.all([
      runWorker(job(0, split, join(dir, "1.csv"), undefined)),
      runWorker(job(split, size, join(dir, "2.csv"), { headerNames: header.names, firstLine })),
      hashFile(o.inputPath),
    ]);
    if (!first.ok) return failed(first.code ?? "CONVERT_PARALLEL_FAILED", `前半: ${first.message}`);
    if (!second.ok) return failed(second.code ?? "CONVERT_PARALLEL_FAILED", `後半: ${second.message}`);
    const a = first.summary.keyJoin;
    const b = second.summary.keyJoin;
    const keys = a && b ? joinKeys(a, b, second.summary.issues) : undefined;
    const outputHash = createHash("sha256");
    let outputBytes = 0;
    const write = async (bytes: Buffer): Promise<void> => {
      if (bytes.length === 0) return;
      outputHash.update(bytes);
      outputBytes += bytes.length;
      await sink.write(bytes);
    };
    for (const part of [join(dir, "1.csv"), join(dir, "2.csv")]) {
      const skip = part.endsWith("2.csv") ? (keys?.spans ?? []) : [];
      let at = 0; // offset of the chunk in the part
      let s = 0; // next span to leave out
      for await (const chunk of createReadStream(part, { highWaterMark: 1 << 20 })) {
        const bytes = chunk as Buffer;
        let from = 0;
        // Leave out the spans that fall in this chunk (a span may straddle chunks).
        while (s < skip.length && (skip[s] ?? 0) < at + bytes.length) {
          const start = (skip[s] ?? 0) - at;
          const end = start + (skip[s + 1] ?? 0);
          if (start > from) await write(bytes.subarray(from, start));
          if (end > bytes.length) {
            from = bytes.length;
            break; // continues in the next chunk
          }
          from = Math.max(from, end);
          s += 2;
        }
        await write(bytes.subarray(from));
        at += bytes.length;
      }
    }
    return {
      summary: merge(first.summary, keys ? joined(second.summary, keys) : second.summary, {
        input: { bytes: size, sha256: input, encoding: first.summary.input.encoding },
        output: { bytes: outputBytes, sha256: outputHash.digest("hex"), encoding: o.encoding },
      }),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function failed(code: string, message: string): ParallelOutcome {
  return { fallback: { code, message } };
}

/** The header names and encoding, read by the engine itself from the start of the file. */
async function probeHeader(
  o: ParallelInput,
): Promise<{ names: readonly string[] | null; encoding: SourceEncoding; dataStart: number } | undefined> {
  const stop = new Error("header read");
  let found: { names: readonly string[] | null; encoding: SourceEncoding | undefined } | undefined;
  try {
    await convert(
      createReadStream(o.inputPath, { start: 0, end: PROBE_BYTES - 1, highWaterMark: 1 << 16 }),
      { write: () => undefined },
      {
        checked: o.checked,
        encoding: o.encoding,
        onHeader: (names, encoding) => {
          found = { names, encoding };
          throw stop;
        },
      },
    );
  } catch (error) {
    if (error !== stop) return undefined;
  }
  if (found === undefined) return undefined;
  const encoding = found.encoding;
  if (encoding !== "cp932" && encoding !== "utf-8") return undefined;
  // The cut must come after the header: past the probed bytes is always after it.
  return { names: found.names, encoding, dataStart: PROBE_BYTES };
}

/** The index just after the first LF at or after `at`, or undefined. */
async function lineStartNear(path: string, at: number): Promise<number | undefined> {
  let offset = at;
  for await (const chunk of createReadStream(path, { start: at, highWaterMark: 1 << 20 })) {
    const bytes = chunk as Buffer;
    const lf = bytes.indexOf(0x0a);
    if (lf >= 0) return offset + lf + 1;
    offset += bytes.length;
  }
  return undefined;
}

/** Line breaks in [0, end): LF, CRLF and a lone CR each count once, as the tokenizer counts them. */
async function lineBreaksBefore(path: string, end: number): Promise<number> {
  let breaks = 0;
  let prevCr = false;
  for await (const chunk of createReadStream(path, { start: 0, end: end - 1, highWaterMark: 1 << 20 })) {
    const bytes = chunk as Buffer;
    for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) breaks++;
    for (let i = bytes.indexOf(0x0d); i >= 0; i = bytes.indexOf(0x0d, i + 1)) {
      // A CR followed by LF is part of a CRLF, already counted with its LF.
      if (i + 1 < bytes.length ? bytes[i + 1] !== 0x0a : false) breaks++;
    }
    if (prevCr && bytes[0] !== 0x0a) breaks++;
    prevCr = bytes[bytes.length - 1] === 0x0d;
  }
  if (prevCr) breaks++; // cannot be followed by LF: the cut is just after an LF, never after a CR
  return breaks;
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Runs one half; every way a worker can end comes back as a result (never a rejection). */
function runWorker(job: WorkerJob): Promise<WorkerResult> {
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = new Worker(WORKER_URL, {
        workerData: job,
        resourceLimits: { maxYoungGenerationSizeMb: 4 },
      });
    } catch (error) {
      resolve(workerFailure("スレッドを起動できません", error));
      return;
    }
    let settled = false;
    const settle = (r: WorkerResult): void => {
      if (settled) return;
      settled = true;
      resolve(r);
      void worker.terminate();
    };
    worker.on("message", (r: WorkerResult) => {
      settle(r);
    });
    worker.on("messageerror", (e) => {
      settle(workerFailure("スレッドの結果を受け取れません", e));
    });
    worker.on("error", (e) => {
      settle(workerFailure("スレッドが異常終了しました", e));
    });
    worker.on("exit", (exitCode) => {
      settle({
        ok: false,
        code: undefined,
        message: `スレッドが結果を返さずに終了しました (終了コード ${exitCode})`,
      });
    });
  });
}

function workerFailure(what: string, error: unknown): WorkerResult {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e.code === "string" ? ` ${e.code}` : "";
  const message = typeof e.message === "string" ? e.message : String(error);
  return { ok: false, code: undefined, message: `${what} (${message}${code})` };
}

/** The second half as joined to the first (key-join.ts): the duplicates across the cut rejected. */
function joined(b: WorkerSummary, keys: KeyJoin): WorkerSummary {
  if (keys.rejected === 0) return b;
  const counts = { ...b.counts };
  counts.rowsUsed -= keys.rejected;
  counts.recordsOut -= keys.rejected;
  counts.rowsRejected += keys.rejected;
  counts.recordsRejected += keys.rejected;
  const issueCounts = new Map<IssueCode, IssueCount>();
  for (const [code, c] of b.issueCounts) issueCounts.set(code, { ...c });
  const dup = issueCounts.get("RECORD_DUPLICATE_KEY") ?? { error: 0, warning: 0, info: 0 };
  dup.error += keys.rejected;
  issueCounts.set("RECORD_DUPLICATE_KEY", dup);
  const digests = new Uint8Array(b.recordDigests.length - 32 * keys.ordinals.length);
  let out = 0;
  let from = 0;
  for (const r of keys.ordinals) {
    digests.set(b.recordDigests.subarray(from * 32, r * 32), out);
    out += (r - from) * 32;
    from = r + 1;
  }
  digests.set(b.recordDigests.subarray(from * 32), out);
  const issuesTotal = b.issuesTotal + keys.rejected;
  return {
    ...b,
    counts,
    issues: keys.issues,
    issuesTotal,
    issuesTruncated: issuesTotal > keys.issues.length,
    issueCounts,
    recordDigests: digests,
  };
}

function merge(
  a: WorkerSummary,
  b: WorkerSummary,
  files: Pick<ConvertSummary, "input" | "output">,
): ConvertSummary {
  const counts = {} as ConvertCounts;
  for (const k of Object.keys(a.counts) as (keyof ConvertCounts)[]) counts[k] = a.counts[k] + b.counts[k];
  const issueCounts = new Map<IssueCode, IssueCount>();
  for (const source of [a.issueCounts, b.issueCounts]) {
    for (const [code, c] of source) {
      const into = issueCounts.get(code) ?? { error: 0, warning: 0, info: 0 };
      into.error += c.error;
      into.warning += c.warning;
      into.info += c.info;
      issueCounts.set(code, into);
    }
  }
  const issues = [...a.issues, ...b.issues].slice(0, MAX_ISSUES);
  const issuesTotal = a.issuesTotal + b.issuesTotal;
  const digests = new Uint8Array(a.recordDigests.length + b.recordDigests.length);
  digests.set(a.recordDigests);
  digests.set(b.recordDigests, a.recordDigests.length);
  return withRecordHashes(
    { ...files, counts, issues, issuesTotal, issuesTruncated: issuesTotal > issues.length, issueCounts },
    digests,
  );
}
