/**
 * One conversion run's input side: bytes in, rows out, each row made into a record.
 *
 * Bytes go to the byte-level fast path (byte-rows.ts) when the source allows it, and otherwise —
 * and for every line the fast path leaves — to the text path (decoder → line skipper → CsvTokenizer),
 * the reference for what a row is. The header rows bind the mapping's columns (column-binding.ts); each
 * later row is checked (blank, undecodable, ragged) and assembled into a standard record
 * (record-assembly.ts; a long export's rows go through long-rows.ts first), which goes to the output
 * side (record-output.ts).
 */
import { bindColumns, type BoundColumns } from "./column-binding.js";
import type { ConvertCounts, ConvertOptions } from "./convert-types.js";
import { ByteRowReader, fastPathApplies, type ByteRow } from "./byte-rows.js";
import { CsvTokenizer } from "./csv-tokenizer.js";
import { ConvertError } from "./errors.js";
import { IssueLog } from "./issue-log.js";
import type { Issue, IssueCode } from "./issues.js";
import { LineSkipper } from "./line-skipper.js";
import { LongRows } from "./long-rows.js";
import { assembleRecord, WideAssembler, type RawRecord } from "./record-assembly.js";
import { RecordOutput } from "./record-output.js";
import { planRecordRules, type RecordRulePlan } from "./record-rules.js";
import { ArrayRow, type RowView } from "./row-view.js";
import { REPLACEMENT_CHAR, SAMPLE_BYTES, SourceDecoder } from "./source-decoder.js";

export class ConversionRun {
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
  readonly output: RecordOutput;

  private readonly options: ConvertOptions;
  private readonly plan: RecordRulePlan;
  private readonly skipper: LineSkipper;
  private readonly tokenizer: CsvTokenizer;
  private readonly headerRows: number;
  private readonly namesFrom: number;
  private header: (readonly string[])[] = [];
  private bound: BoundColumns | undefined;
  private wide: WideAssembler | undefined;
  private long: LongRows | undefined;
  private sawReplacement = false;
  private readonly scratch: Issue[] = [];
  /** The byte-level fast path, once the source encoding is known and allows it. */
  private fast: ByteRowReader | undefined;
  private reportedPositions = false;
  /** The first bytes of the input as fed (for the encoding hint), whichever path reads them. */
  private head: Buffer[] = [];
  private headBytes = 0;

  constructor(options: ConvertOptions) {
    this.options = options;
    const src = options.checked.mapping.source;
    this.log = new IssueLog(options.maxIssues ?? 100_000);
    this.decoder = new SourceDecoder(src.encoding);
    this.plan = planRecordRules(options.checked);
    this.output = new RecordOutput(options, this.plan, this.counts, this.log);
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
      this.skipUnreadColumns();
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
    this.long?.end();
    this.output.end();
  }

  private scratchFor(): Issue[] {
    this.scratch.length = 0;
    return this.scratch;
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

  /** The fast path bounds only the fields up to the last column a rule reads (byte-rows.ts `skipAfter`). */
  private skipUnreadColumns(): void {
    const bound = this.bound;
    if (!this.fast || bound?.width === undefined) return;
    let last = -1;
    for (const f of bound.fields) for (const c of f.columns ?? []) last = Math.max(last, c.index);
    this.fast.skipAfter(last, bound.width);
  }

  private bindHeader(names: readonly string[] | null, line = 0): void {
    let bound: BoundColumns;
    try {
      bound = bindColumns(this.options.checked, names);
      // One record object serves every row unless duplicates are merged (merging keeps the records).
      const reuse = this.options.checked.mapping.duplicates === "error" || this.plan.keyIndices.length === 0;
      this.wide = new WideAssembler(this.plan, bound.fields, reuse);
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
    this.bound = bound;
    this.head = [];
    this.skipUnreadColumns();
    this.options.onHeader?.(names, this.decoder.encoding);
    const long = this.options.checked.long;
    if (long) {
      this.long = new LongRows({
        sorted: long.sorted,
        bound,
        counts: this.counts,
        log: this.log,
        write: (raw, rows) => {
          this.writeRecord(raw, rows);
        },
        reject: (l, code, message) => {
          this.rejectRow(l, code, message);
        },
      });
    }
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
    if (this.long) {
      this.long.add(row);
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
    this.output.finish(assembled, row.line, 1);
  }

  private writeRecord(raw: RawRecord, rows: number): void {
    const scratch = this.scratchFor();
    const assembled = assembleRecord(this.plan, raw, this.options.encoding, scratch);
    this.log.addAll(scratch);
    this.output.finish(assembled, raw.line, rows);
  }

  private rejectRow(line: number, code: IssueCode, message: string): void {
    this.counts.rowsRejected++;
    this.log.add({ severity: "error", code, row: line, message });
  }
}
