/**
 * The rows of a long export (縦持ち: one row per visit × test item) as the engine reads them: each row's
 * visit key and item code, the value put into its visit (pivot.ts), and each finished visit handed on
 * as one raw record. Rows of unmapped item codes are counted as ignored and reported once per code.
 */
import type { ConvertCounts } from "./convert-types.js";
import type { BoundColumns } from "./column-binding.js";
import type { RawValue } from "./field-convert.js";
import type { IssueLog } from "./issue-log.js";
import type { IssueCode } from "./issues.js";
import { VisitGrouper, type Visit } from "./pivot.js";
import type { RawRecord } from "./record-assembly.js";
import { ArrayRow, type RowView } from "./row-view.js";

/** Distinct unmapped item codes reported (later ones are still counted as ignored rows). */
const MAX_REPORTED_CODES = 1000;

export class LongRows {
  private readonly grouper: VisitGrouper;
  private readonly bound: BoundColumns;
  private readonly counts: ConvertCounts;
  private readonly log: IssueLog;
  private readonly write: (raw: RawRecord, rows: number) => void;
  private readonly reject: (line: number, code: IssueCode, message: string) => void;
  private readonly reportedCodes = new Set<string>();

  constructor(o: {
    sorted: boolean;
    bound: BoundColumns;
    counts: ConvertCounts;
    log: IssueLog;
    /** A visit's raw record and the number of rows it was made of. */
    write: (raw: RawRecord, rows: number) => void;
    reject: (line: number, code: IssueCode, message: string) => void;
  }) {
    this.grouper = new VisitGrouper(o.sorted);
    this.bound = o.bound;
    this.counts = o.counts;
    this.log = o.log;
    this.write = o.write;
    this.reject = o.reject;
  }

  add(row: RowView): void {
    const long = this.bound.long;
    if (!long) return;
    const key = long.visitKeyOf(row.fields);
    if (key === undefined) {
      this.reject(row.line, "RECORD_KEY_MISSING", "受診を特定する列 (visitKey) が空です");
      return;
    }
    const code = (row.fields[long.itemColumn] ?? "").trim();
    const rule = long.items.get(code);
    if (!rule) {
      this.counts.rowsIgnored++;
      if (
        long.unmapped === "warning" &&
        !this.reportedCodes.has(code) &&
        this.reportedCodes.size < MAX_REPORTED_CODES
      ) {
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
      this.reject(
        row.line,
        "RECORD_UNSORTED",
        "並べ替え済み (sorted) と指定されていますが、この受診の行が離れた位置にあります",
      );
      return;
    }
    if (outcome !== undefined) this.writeVisit(outcome);
  }

  /** End of input: every visit still held is written. */
  end(): void {
    for (const visit of this.grouper.drain()) this.writeVisit(visit);
  }

  private writeVisit(visit: Visit): void {
    const cells = new Map(this.bound.headerCells(new ArrayRow({ line: visit.line, fields: visit.firstRow })));
    for (const [rule, values] of visit.cells) cells.set(rule, values);
    this.write({ line: visit.line, cells }, visit.rows);
  }
}
