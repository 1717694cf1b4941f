/**
 * The conversion report: counts, hashes and issues, as JSON (for programs) and CSV (for people with a
 * spreadsheet). It never holds a value from a row, only codes, positions, item keys and messages.
 */
import { neutraliseFormula, quoteCell } from "../format/csv-cell.js";
import type { ConvertSummary } from "./engine.js";
import type { Issue } from "./issues.js";

export const REPORT_FORMAT = "kenshin-convert-report";

export interface ReportMeta {
  readonly mapping: { readonly name: string; readonly sha256: string };
  readonly dictionary: { readonly name: string; readonly version: string };
}

export interface ConvertReport {
  readonly format: typeof REPORT_FORMAT;
  readonly version: 1;
  readonly mapping: ReportMeta["mapping"];
  readonly dictionary: ReportMeta["dictionary"];
  readonly input: ConvertSummary["input"];
  readonly output: ConvertSummary["output"] & { readonly records: number };
  readonly counts: ConvertSummary["counts"];
  /** rowsIn = rowsUsed + rowsRejected + rowsIgnored (always true; kept so readers can check). */
  readonly reconciled: boolean;
  readonly issueCounts: Record<string, { error: number; warning: number }>;
  readonly issuesTotal: number;
  readonly issuesTruncated: boolean;
  readonly issues: readonly Issue[];
}

export function buildReport(summary: ConvertSummary, meta: ReportMeta): ConvertReport {
  const c = summary.counts;
  return {
    format: REPORT_FORMAT,
    version: 1,
    mapping: meta.mapping,
    dictionary: meta.dictionary,
    input: summary.input,
    output: { ...summary.output, records: c.recordsOut },
    counts: c,
    reconciled: c.rowsIn === c.rowsUsed + c.rowsRejected + c.rowsIgnored,
    issueCounts: Object.fromEntries([...summary.issueCounts].sort(([a], [b]) => a.localeCompare(b))),
    issuesTotal: summary.issuesTotal,
    issuesTruncated: summary.issuesTruncated,
    issues: summary.issues,
  };
}

const ISSUE_HEADER = ["重要度", "コード", "行", "列", "項目", "内容"];

/** Issues as CSV (UTF-8 with BOM so spreadsheets in Japan open it correctly, CRLF). */
export function issuesToCsv(issues: readonly Issue[]): string {
  const lines = [ISSUE_HEADER.join(",")];
  for (const i of issues) {
    const cells = [
      i.severity === "error" ? "エラー" : "警告",
      i.code,
      String(i.row),
      i.column ?? "",
      i.item ?? "",
      i.message,
    ];
    lines.push(cells.map((c) => quoteCell(neutraliseFormula(c))).join(","));
  }
  return `\uFEFF${lines.join("\r\n")}\r\n`;
}

/** File and record hashes as CSV: `kind,index,sha256` (record index is 1-based, in output order). */
export function hashesToCsv(summary: ConvertSummary): string {
  const lines = ["kind,index,sha256", `file,,${summary.output.sha256}`];
  summary.recordHashes.forEach((h, i) => lines.push(`record,${i + 1},${h}`));
  return `${lines.join("\r\n")}\r\n`;
}
