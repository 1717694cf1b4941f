/**
 * What the conversion engine (engine.ts) takes and gives: its options, the sink its output goes to,
 * progress, counts and the summary of a run.
 */
import type { OutputEncoding } from "../format/output-encoding.js";
import type { IssueCount } from "./issue-log.js";
import type { Issue, IssueCode } from "./issues.js";
import type { KeyJoinPart } from "./key-join.js";
import type { CheckedMapping } from "./mapping-check.js";
import type { SourceEncoding } from "./source-decoder.js";

export interface OutputSink {
  write(chunk: Uint8Array): void | Promise<void>;
  /**
   * True when the sink is done with a chunk once `write` returns (or its promise settles): it copies it
   * or writes it out and keeps no reference. The engine then writes the next output into the same
   * memory instead of a fresh buffer (a 1 GB export's 600 MB of output would otherwise be 2 MB buffers
   * left for the collector).
   */
  readonly releasesChunks?: boolean;
}

export interface ConvertProgress {
  readonly bytesRead: number;
  readonly rowsIn: number;
  readonly recordsOut: number;
}

export interface ConvertOptions {
  readonly checked: CheckedMapping;
  readonly encoding: OutputEncoding;
  readonly onProgress?: ((p: ConvertProgress) => void) | undefined;
  /** Issues kept in full (all are counted). Default 100,000. */
  readonly maxIssues?: number;
  /**
   * Reads every row through the text tokenizer (the reference path), never the byte-level fast path.
   * Output is the same either way; tests compare the two.
   */
  readonly referencePath?: boolean;
  /**
   * Parallel conversion (parallel-convert.ts) only: the input is one byte range of a file. `resume`:
   * it starts mid-file, as if the header (these names) had been read, at this line number;
   * `writeHeader`: whether to write the header row; `endBetweenRows`: the range must end between two
   * rows (CONVERT_SPLIT_MID_ROW otherwise).
   */
  readonly range?: {
    readonly resume?: { readonly headerNames: readonly string[] | null; readonly firstLine: number };
    readonly writeHeader: boolean;
    readonly endBetweenRows: boolean;
  };
  /** Called once when the header has been read, with its names and the source encoding. */
  readonly onHeader?: (names: readonly string[] | null, encoding: SourceEncoding | undefined) => void;
  /** Write a second header row with each item's JLAC10 code. */
  readonly codeHeader?: boolean;
}

export interface ConvertCounts {
  rowsIn: number;
  rowsUsed: number;
  rowsRejected: number;
  rowsIgnored: number;
  blankLines: number;
  recordsOut: number;
  recordsRejected: number;
}

export interface ConvertSummary {
  readonly input: {
    readonly bytes: number;
    readonly sha256: string;
    readonly encoding: SourceEncoding | undefined;
  };
  readonly output: { readonly bytes: number; readonly sha256: string; readonly encoding: OutputEncoding };
  readonly counts: ConvertCounts;
  readonly issues: readonly Issue[];
  readonly issuesTotal: number;
  readonly issuesTruncated: boolean;
  readonly issueCounts: ReadonlyMap<IssueCode, IssueCount>;
  /** SHA-256 of each record written, in output order (made from recordDigests when first read). */
  readonly recordHashes: readonly string[];
  /** The same digests, 32 bytes each (what a memory-conscious reader should use). */
  readonly recordDigests: Uint8Array;
  /** A range run (`range`) in duplicates error mode: what joining it to the other half needs. */
  readonly keyJoin?: KeyJoinPart;
}
