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
 */
import { createHash, hash as oneShotHash, type Hash } from "node:crypto";
import type { OutputEncoding } from "../format/output-encoding.js";
import { RecordWriter } from "../format/record-writer.js";
import { RecordDigests, withRecordHashes } from "./record-digests.js";
import { encodeHeader } from "../format/standard-csv.js";
import { ConvertError } from "./errors.js";
import { ByteRowReader, fastPathApplies, type ByteRow } from "./byte-rows.js";
import { CsvTokenizer } from "./csv-tokenizer.js";
import type { RawValue } from "./field-convert.js";
import { IssueLog, type IssueCount } from "./issue-log.js";
import type { Issue, IssueCode } from "./issues.js";
import { LineSkipper } from "./line-skipper.js";
import type { CheckedMapping } from "./mapping-check.js";
import { bindColumns, type BoundColumns } from "./column-binding.js";
import { VisitGrouper, type Visit } from "./pivot.js";
import { assembleRecord, WideAssembler, type AssembledRecord, type RawRecord } from "./record-assembly.js";
import { planRecordRules, type RecordRulePlan } from "./record-rules.js";
import { ArrayRow, type RowView } from "./row-view.js";
import { REPLACEMENT_CHAR, SAMPLE_BYTES, SourceDecoder, type SourceEncoding } from "./source-decoder.js";
import type { StandardRecord } from "../format/standard-csv.js";
import { DuplicateKeys } from "./duplicate-keys.js";
import { KeyJoinRecorder, type KeyJoinPart } from "./key-join.js";

export interface OutputSink {
  write(chunk: Uint8Array): void | Promise<void>;
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

const FLUSH_BYTES = 1 << 20;

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
  // A range of a parallel run is not hashed: the file and the joined output are hashed whole by the
  // caller (parallel-convert.ts), and a half's hash would be of no use. Its summary says "" for both.
  const inputHash = options.range === undefined ? createHash("sha256") : undefined;
  let bytesRead = 0;
  if (options.range?.writeHeader !== false)
    run.push(
      encodeHeader(options.checked.dictionary, options.encoding, { codeHeader: options.codeHeader === true }),
    );
  for await (const chunk of input) {
    inputHash?.update(chunk);
    bytesRead += chunk.length;
    run.feed(chunk);
    await run.flush(sink, false);
    options.onProgress?.({ bytesRead, rowsIn: run.counts.rowsIn, recordsOut: run.counts.recordsOut });
  }
  run.end();
  await run.flush(sink, true);
  const keyJoin = run.keyJoin;
  return withRecordHashes(
    {
      input: { bytes: bytesRead, sha256: inputHash?.digest("hex") ?? "", encoding: run.decoder.encoding },
      output: {
        bytes: run.outputBytes,
        sha256: run.outputHash?.digest("hex") ?? "",
        encoding: options.encoding,
      },
      counts: run.counts,
      issues: run.log.kept,
      issuesTotal: run.log.total,
      issuesTruncated: run.log.truncated,
      issueCounts: run.log.counts,
      ...(keyJoin ? { keyJoin } : {}),
    },
    run.digests.bytes(),
  );
}

class ConversionRun {
  readonly counts: ConvertCounts = {
    rowsIn: 0,
    rowsUsed: 0,
    rowsRejected: 0,
    rowsIgnored: 0,
    blankLines: 0,
    recordsOut: 0,
    recordsRejected: 0,
  };
  readonly log: IssueLog;
  readonly decoder: SourceDecoder;
  readonly outputHash: Hash | undefined;
  readonly digests = new RecordDigests();
  outputBytes = 0;

  private readonly options: ConvertOptions;
  private readonly plan: RecordRulePlan;
  private readonly skipper: LineSkipper;
  private readonly tokenizer: CsvTokenizer;
  private readonly headerRows: number;
  private readonly namesFrom: number;
  private header: (readonly string[])[] = [];
  private bound: BoundColumns | undefined;
  private wide: WideAssembler | undefined;
  private grouper: VisitGrouper | undefined;
  private readonly writer: RecordWriter;
  private sawReplacement = false;
  private readonly scratch: Issue[] = [];
  private readonly reportedCodes = new Set<string>();
  /** The byte-level fast path, once the source encoding is known and allows it. */
  private fast: ByteRowReader | undefined;
  private reportedPositions = false;
  /** The first bytes of the input as fed (for the encoding hint), whichever path reads them. */
  private head: Buffer[] = [];
  private headBytes = 0;
  private readonly duplicates: DuplicateKeys;
  /** A range run in error mode: records what joining the halves needs (key-join.ts). */
  private readonly join: KeyJoinRecorder | undefined;
  /** Where the last record emitted went: its number, output offset and length with CRLF. */
  private lastOrdinal = 0;
  private lastOffset = 0;
  private lastLength = 0;

  constructor(options: ConvertOptions) {
    this.options = options;
    this.outputHash = options.range === undefined ? createHash("sha256") : undefined;
    const src = options.checked.mapping.source;
    this.log = new IssueLog(options.maxIssues ?? 100_000);
    this.writer = new RecordWriter(options.encoding);
    this.decoder = new SourceDecoder(src.encoding);
    this.plan = planRecordRules(options.checked);
    this.duplicates = new DuplicateKeys(this.plan, options.checked.mapping.duplicates);
    this.join =
      options.range !== undefined && options.checked.mapping.duplicates === "error"
        ? new KeyJoinRecorder()
        : undefined;
    const resume = options.range?.resume;
    this.skipper = new LineSkipper(resume ? 0 : src.skipLines);
    this.headerRows = src.header === false ? 0 : src.header.rows;
    this.namesFrom = src.header === false ? 0 : (src.header.namesFrom ?? src.header.rows);
    if (this.namesFrom > this.headerRows) {
      throw new ConvertError("MAP_INVALID_RULE", "source.header.namesFrom は rows 以下にしてください", {
        where: "source.header",
      });
    }
    this.tokenizer = new CsvTokenizer(
      {
        delimiter: src.delimiter,
        quote: src.quote === "none" ? null : src.quote,
        maxFieldLength: src.maxFieldLength,
        maxColumns: src.maxColumns,
        firstLine: resume ? resume.firstLine : src.skipLines + 1,
      },
      {
        row: (r) => {
          this.onRow(new ArrayRow(r));
        },
        problem: (p) => {
          if (!this.bound) {
            throw new ConvertError(
              "CONVERT_HEADER_MISSING",
              `見出し行を読めません (${p.line}行目: ${p.code})`,
              {
                line: p.line,
                code: p.code,
              },
            );
          }
          this.counts.rowsIn++;
          this.counts.rowsRejected++;
          this.log.add({ severity: "error", code: p.code, row: p.line, message: p.message });
        },
      },
    );
    if (resume) this.bindHeader(resume.headerNames);
    else if (this.headerRows === 0) this.bindHeader(null);
    if (
      options.referencePath !== true &&
      !options.checked.long &&
      fastPathApplies(src.delimiter, src.quote === "none" ? null : src.quote)
    ) {
      this.fast = this.startFastPath();
    }
  }

  feed(chunk: Uint8Array): void {
    if (this.headBytes < SAMPLE_BYTES && !this.bound) {
      const part = chunk.subarray(0, SAMPLE_BYTES - this.headBytes);
      this.head.push(Buffer.from(part));
      this.headBytes += part.length;
    }
    if (this.fast) {
      this.fast.feed(chunk);
      const encoding = this.decoder.encoding;
      if (encoding === "utf-16le" || encoding === "utf-16be") {
        // Bytes are not lines in UTF-16: the text path reads the rest.
        this.fast.end();
        this.fast = undefined;
      }
      return;
    }
    this.feedText(this.decoder.write(chunk));
  }

  end(): void {
    if (this.options.range?.endBetweenRows === true && !(this.tokenizer.idle && this.fast?.idle !== false)) {
      throw new ConvertError("CONVERT_SPLIT_MID_ROW", "分割点が行の途中です", {});
    }
    this.fast?.end();
    this.feedText(this.decoder.end());
    this.tokenizer.end();
    if (!this.bound) throw new ConvertError("CONVERT_HEADER_MISSING", "ファイルに見出し行がありません", {});
    if (this.grouper) for (const visit of this.grouper.drain()) this.writeVisit(visit);
    const issues: Issue[] = [];
    for (const merged of this.duplicates.drain(issues)) {
      this.log.addAll(issues);
      issues.length = 0;
      this.emit(merged);
    }
  }

  private scratchFor(): Issue[] {
    this.scratch.length = 0;
    return this.scratch;
  }

  push(bytes: Buffer): void {
    this.writer.writeRaw(bytes);
  }

  async flush(sink: OutputSink, final: boolean): Promise<void> {
    const pending = this.writer.length;
    if (pending === 0 || (!final && pending < FLUSH_BYTES)) return;
    const chunk = this.writer.take();
    this.outputHash?.update(chunk);
    this.outputBytes += chunk.length;
    await sink.write(chunk);
  }

  private feedText(text: string): void {
    if (text === "") return;
    if (!this.sawReplacement && text.includes(REPLACEMENT_CHAR)) this.sawReplacement = true;
    const rest = this.skipper.take(text);
    if (rest !== "") this.tokenizer.feed(rest);
  }

  private startFastPath(): ByteRowReader {
    const src = this.options.checked.mapping.source;
    const quote = src.quote === "none" ? -1 : src.quote.charCodeAt(0);
    return new ByteRowReader(
      {
        delimiter: src.delimiter.charCodeAt(0),
        quote,
        maxColumns: src.maxColumns,
        maxFieldLength: src.maxFieldLength,
      },
      {
        ready: () => {
          const encoding = this.decoder.encoding;
          if (encoding !== "cp932" && encoding !== "utf-8") return undefined;
          return this.bound !== undefined && this.skipper.done && this.tokenizer.idle ? encoding : undefined;
        },
        slow: (bytes) => {
          this.feedText(this.decoder.write(bytes));
        },
        empty: () => {
          this.tokenizer.passLine();
        },
        row: (row: ByteRow) => {
          row.line = this.tokenizer.passLine();
          this.onRow(row);
        },
      },
    );
  }

  private bindHeader(names: readonly string[] | null, line = 0): void {
    try {
      this.bound = bindColumns(this.options.checked, names);
      // One record object serves every row unless duplicates are merged (merging keeps the records).
      const reuse = this.options.checked.mapping.duplicates === "error" || this.plan.keyIndices.length === 0;
      this.wide = new WideAssembler(this.plan, this.bound.fields, reuse);
    } catch (error) {
      const likely = this.decoder.likelyEncoding(Buffer.concat(this.head));
      if (error instanceof ConvertError && error.code === "MAP_UNKNOWN_COLUMN" && likely !== undefined) {
        throw new ConvertError(
          "CONVERT_ENCODING_MISMATCH",
          `見出し行に列「${String(error.context.column)}」が見つかりません。ファイルは ${likely} のようですが ${this.decoder.encoding ?? "?"} として読みました (マッピングの source.encoding を ${likely} か auto にしてください)`,
          { ...error.context, declared: this.decoder.encoding, likely },
          { cause: error },
        );
      }
      throw error;
    }
    this.head = [];
    this.options.onHeader?.(names, this.decoder.encoding);
    if (this.options.checked.long) this.grouper = new VisitGrouper(this.options.checked.long.sorted);
    // A resumed range (parallel-convert.ts): the first range has listed the unmapped columns.
    if (names !== null && this.options.range?.resume === undefined)
      this.reportUnmapped(
        names.map((n, i) => [i, n === "" ? `#${i + 1}` : n]),
        line,
      );
  }

  /** Nothing silent: every column no rule reads is listed once (info). */
  private reportUnmapped(columns: readonly (readonly [number, string])[], line: number): void {
    const used = this.bound?.usedColumns;
    for (const [i, name] of columns) {
      if (used?.has(i)) continue;
      this.log.add({
        severity: "info",
        code: "SOURCE_COLUMN_UNMAPPED",
        row: line,
        column: name,
        message: `列「${name}」はマッピングで使われていないため出力に含まれません (意図したものなら source.ignoreColumns に加えてください)`,
      });
    }
  }

  private onRow(row: RowView): void {
    if (!this.bound) {
      this.header.push(row.fields);
      if (this.header.length === this.headerRows) {
        const names = this.header[this.namesFrom - 1] ?? [];
        this.bindHeader(
          names.map((n) => n.trim()),
          row.line,
        );
      }
      return;
    }
    if (row.isBlank()) {
      this.counts.blankLines++;
      return;
    }
    this.counts.rowsIn++;
    const bound = this.bound;
    if (bound.width === undefined && !this.reportedPositions) {
      this.reportedPositions = true;
      const positions: [number, string][] = [];
      for (let i = 0; i < row.width; i++) positions.push([i, `#${i + 1}`]);
      this.reportUnmapped(positions, row.line);
    }
    if (this.sawReplacement && row.hasReplacement()) {
      this.rejectRow(
        row.line,
        "SOURCE_DECODE_ERROR",
        "文字コードが正しくない文字があります (マッピングの文字コード指定を確認してください)",
      );
      return;
    }
    if (!bound.fitsWidth(row)) {
      this.rejectRow(
        row.line,
        "SOURCE_RAGGED_ROW",
        `列の数 (${row.width}) が見出し行 (${bound.width ?? "?"}) と違います`,
      );
      return;
    }
    if (this.grouper) {
      this.onLongRow(row, bound);
      return;
    }
    if (this.options.referencePath === true) {
      // The reference path keeps the plain assembly (a Map of raw values, a fresh record), so the
      // property test compares the wide assembler's reuse against it.
      this.writeRecord({ line: row.line, cells: bound.headerCells(row) }, 1);
      return;
    }
    const wide = this.wide as WideAssembler;
    const scratch = this.scratchFor();
    const assembled = wide.assemble(row, this.options.encoding, scratch);
    this.log.addAll(scratch);
    this.finishRecord(assembled, row.line, 1);
  }

  private onLongRow(row: RowView, bound: BoundColumns): void {
    const long = bound.long;
    if (!long || !this.grouper) return;
    const key = long.visitKeyOf(row.fields);
    if (key === undefined) {
      this.rejectRow(row.line, "RECORD_KEY_MISSING", "受診を特定する列 (visitKey) が空です");
      return;
    }
    const code = (row.fields[long.itemColumn] ?? "").trim();
    const rule = long.items.get(code);
    if (!rule) {
      this.counts.rowsIgnored++;
      if (long.unmapped === "warning" && !this.reportedCodes.has(code) && this.reportedCodes.size < 1000) {
        this.reportedCodes.add(code);
        this.log.add({
          severity: "warning",
          code: "CHECK_LONG_ITEM_UNMAPPED",
          row: row.line,
          column: long.itemColumnName,
          message: `マッピングにない検査コード「${code}」の行を読み飛ばしました (同じコードの行は以後報告しません)`,
        });
      }
      return;
    }
    const value: RawValue = {
      text: row.fields[long.valueColumn] ?? "",
      row: row.line,
      column: long.valueColumnName,
    };
    const outcome = this.grouper.add(key, row, rule, value);
    if (outcome === "unsorted") {
      this.rejectRow(
        row.line,
        "RECORD_UNSORTED",
        "並べ替え済み (sorted) と指定されていますが、この受診の行が離れた位置にあります",
      );
      return;
    }
    if (outcome !== undefined) this.writeVisit(outcome);
  }

  private writeVisit(visit: Visit): void {
    const cells = new Map(
      this.bound?.headerCells(new ArrayRow({ line: visit.line, fields: visit.firstRow })),
    );
    for (const [rule, values] of visit.cells) cells.set(rule, values);
    this.writeRecord({ line: visit.line, cells }, visit.rows);
  }

  private writeRecord(raw: RawRecord, rows: number): void {
    const scratch = this.scratchFor();
    const assembled = assembleRecord(this.plan, raw, this.options.encoding, scratch);
    this.log.addAll(scratch);
    this.finishRecord(assembled, raw.line, rows);
  }

  /** A record assembled (its issues logged): rejected, held, or written. */
  private finishRecord({ record, rejected }: AssembledRecord, line: number, rows: number): void {
    if (rejected) {
      this.counts.rowsRejected += rows;
      this.counts.recordsRejected++;
      return;
    }
    const issues = this.scratchFor();
    const held = this.duplicates.offer({ record, line, rows }, issues);
    this.log.addAll(issues);
    if (held === "duplicate") {
      this.join?.duplicate(this.duplicates.lastEntry, this.log);
      this.counts.rowsRejected += rows;
      this.counts.recordsRejected++;
      return;
    }
    if (held === "held") return;
    this.emit({ record, line, rows, rejected: false });
    const entry = this.duplicates.lastEntry;
    if (this.join && entry >= 0)
      this.join.written(entry, this.lastOrdinal, this.lastOffset, this.lastLength, this.log.total);
  }

  /** The range run's join data (after `end`). */
  get keyJoin(): KeyJoinPart | undefined {
    return this.join?.part(this.duplicates.table);
  }

  /** Writes one finished record (or counts it rejected when merging found a conflict). */
  private emit(r: { record: StandardRecord; line: number; rows: number; rejected: boolean }): void {
    if (r.rejected) {
      this.counts.rowsRejected += r.rows;
      this.counts.recordsRejected++;
      return;
    }
    const span = this.writer.writeRecord(r.record);
    this.lastOrdinal = this.digests.length;
    this.lastOffset = this.outputBytes + span.start;
    this.lastLength = span.end - span.start + 2;
    this.digests.pushLatin1(oneShotHash("sha256", this.writer.view(span.start, span.end), "binary"));
    this.counts.rowsUsed += r.rows;
    this.counts.recordsOut++;
  }

  private rejectRow(line: number, code: IssueCode, message: string): void {
    this.counts.rowsRejected++;
    this.log.add({ severity: "error", code, row: line, message });
  }
}
