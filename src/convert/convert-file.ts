/**
 * Converting files on disk: loads the dictionary, thesaurus and mapping, runs the engine from the
 * input file into a temporary file next to the output, and renames it into place only on success
 * (a failed run never leaves a partial file under the output name).
 */
import { createReadStream } from "node:fs";
import { open, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { DEFAULT_DICTIONARY_PATH, loadDictionary, type Dictionary } from "../format/dictionary.js";
import { sha256Hex } from "../format/hash.js";
import type { OutputEncoding } from "../format/output-encoding.js";
import { convert, type ConvertProgress, type ConvertSummary, type OutputSink } from "./engine.js";
import { ConvertError } from "./errors.js";
import { convertInParallel, type ParallelFallback, type ParallelOutcome } from "./parallel-convert.js";
import { loadMapping } from "./mapping.js";
import { checkMapping, type CheckedMapping } from "./mapping-check.js";
import { buildReport, hashesToCsv, issuesToCsv, reportMetaOf, type ConvertReport } from "./report.js";
import { DEFAULT_THESAURUS_PATH, loadThesaurus } from "./thesaurus.js";

export interface PreparedMapping {
  readonly checked: CheckedMapping;
  readonly mappingSha256: string;
  readonly dictionary: Dictionary;
}

/** Loads and checks a mapping with its dictionary and thesaurus (defaults: the shipped ones). */
export async function prepareMapping(options: {
  readonly mappingPath: string;
  readonly dictionaryPath?: string | undefined;
  readonly thesaurusPath?: string | undefined;
}): Promise<PreparedMapping> {
  const [dictionary, thesaurus, { mapping, text }] = await Promise.all([
    loadDictionary(options.dictionaryPath ?? DEFAULT_DICTIONARY_PATH),
    loadThesaurus(options.thesaurusPath ?? DEFAULT_THESAURUS_PATH),
    loadMapping(options.mappingPath),
  ]);
  return {
    checked: checkMapping(mapping, dictionary, thesaurus),
    mappingSha256: sha256Hex(text),
    dictionary,
  };
}

export interface ConvertFileOptions {
  readonly inputPath: string;
  readonly prepared: PreparedMapping;
  /** Output path, or undefined to discard the output (a dry run, e.g. `map check --sample`). */
  readonly outPath?: string | undefined;
  readonly reportPath?: string | undefined;
  readonly reportCsvPath?: string | undefined;
  readonly hashesPath?: string | undefined;
  readonly encoding: OutputEncoding;
  /**
   * Threads converting (2: the file's two halves are converted by two worker threads when that
   * applies, see parallel-convert.ts; default 1). Needs the mapping's paths.
   */
  readonly threads?: 1 | 2 | undefined;
  readonly paths?: {
    readonly mappingPath: string;
    readonly dictionaryPath: string | undefined;
    readonly thesaurusPath: string | undefined;
  };
  /** Reads every row through the text tokenizer (the reference path; for tests and the benchmark). */
  readonly referencePath?: boolean | undefined;
  /** A second header row with each item's JLAC10 code. */
  readonly codeHeader?: boolean;
  readonly onProgress?: ((p: ConvertProgress, totalBytes: number) => void) | undefined;
}

export interface ConvertFileResult {
  readonly summary: ConvertSummary;
  readonly report: ConvertReport;
  /** Threads that converted (2 only when the parallel conversion applied and worked out). */
  readonly threads: 1 | 2;
  /** Two threads were asked for, tried and failed (one thread then did the work): why. */
  readonly parallelFallback?: ParallelFallback | undefined;
}

export async function convertFile(options: ConvertFileOptions): Promise<ConvertFileResult> {
  const { prepared } = options;
  let totalBytes: number;
  try {
    totalBytes = (await stat(options.inputPath)).size;
  } catch (cause) {
    throw new ConvertError(
      "CONVERT_INPUT_UNREADABLE",
      `入力ファイルを読めません: ${options.inputPath}`,
      { path: options.inputPath },
      { cause },
    );
  }
  const input = createReadStream(options.inputPath, { highWaterMark: 1 << 20 });
  const tmp =
    options.outPath === undefined
      ? undefined
      : join(dirname(options.outPath), `.${basename(options.outPath)}.${process.pid}.partial`);
  const handle = tmp === undefined ? undefined : await openOutput(tmp);
  const sink: OutputSink = {
    // The file handle's write has finished with the bytes when it resolves.
    releasesChunks: true,
    write: async (chunk) => {
      if (handle) await handle.write(chunk);
    },
  };
  let summary: ConvertSummary;
  let threads: 1 | 2 = 1;
  let fallback: ParallelFallback | undefined;
  try {
    const parallel: ParallelOutcome | undefined =
      options.threads === 2 &&
      options.referencePath !== true &&
      options.codeHeader !== true &&
      options.paths !== undefined
        ? await convertInParallel(
            {
              inputPath: options.inputPath,
              checked: prepared.checked,
              encoding: options.encoding,
              ...options.paths,
            },
            sink,
          )
        : undefined;
    fallback = parallel?.fallback;
    if (parallel?.summary) {
      input.destroy();
      summary = parallel.summary;
      threads = 2;
      const c = summary.counts;
      options.onProgress?.({ bytesRead: totalBytes, rowsIn: c.rowsIn, recordsOut: c.recordsOut }, totalBytes);
    } else {
      summary = await convert(input, sink, {
        checked: prepared.checked,
        encoding: options.encoding,
        referencePath: options.referencePath === true,
        codeHeader: options.codeHeader === true,
        onProgress: options.onProgress ? (p) => options.onProgress?.(p, totalBytes) : undefined,
      });
    }
    if (handle) {
      await handle.sync();
      await handle.close();
    }
    if (tmp !== undefined && options.outPath !== undefined) await rename(tmp, options.outPath);
  } catch (error) {
    input.destroy();
    await handle?.close().catch(() => undefined);
    if (tmp !== undefined) await rm(tmp, { force: true });
    throw error;
  }
  const report = buildReport(summary, reportMetaOf(prepared.checked, prepared.mappingSha256));
  if (options.reportPath !== undefined)
    await writeOutput(options.reportPath, `${JSON.stringify(report, null, 2)}\n`);
  if (options.reportCsvPath !== undefined)
    await writeOutput(options.reportCsvPath, issuesToCsv(summary.issues));
  if (options.hashesPath !== undefined) await writeOutput(options.hashesPath, hashesToCsv(summary));
  return { summary, report, threads, ...(fallback ? { parallelFallback: fallback } : {}) };
}

function openOutput(path: string) {
  return unwritableOnFailure(path, () => open(path, "w", 0o600));
}

function writeOutput(path: string, text: string): Promise<void> {
  return unwritableOnFailure(path, () => writeFile(path, text, { mode: 0o600 }));
}

/** Runs a file-system write; a failure becomes CONVERT_OUTPUT_UNWRITABLE naming the path. */
async function unwritableOnFailure<T>(path: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (cause) {
    throw new ConvertError(
      "CONVERT_OUTPUT_UNWRITABLE",
      `出力ファイルを書けません: ${path}`,
      { path },
      { cause },
    );
  }
}
