/**
 * The conversion report: counts, hashes and issues, as JSON (for programs) and CSV (for people with a
 * spreadsheet). It never holds a value from a row, only codes, positions, item keys and messages.
 */
import { neutraliseFormula, quoteCell } from "../format/csv-cell.js";
import type { ConvertSummary } from "./engine.js";
import type { Issue } from "./issues.js";
import type { CheckedMapping } from "./mapping-check.js";

export const REPORT_FORMAT = "kenshin-convert-report";

/** Exactly which reference data produced a conversion. */
export interface ReportMeta {
  /** The mapping's name, SHA-256 of its text, and its own revision label when it has one. */
  readonly mapping: { readonly name: string; readonly sha256: string; readonly revision?: string };
  readonly dictionary: { readonly name: string; readonly version: string };
  /** The thesaurus (the mapping's own vocabulary is part of the mapping, covered by its hash). */
  readonly thesaurus: { readonly name: string; readonly version: string };
}

/** The report meta of a checked mapping whose text hashes to `sha256`. */
export function reportMetaOf(checked: CheckedMapping, sha256: string): ReportMeta {
  const m = checked.mapping;
  return {
    mapping: { name: m.name, sha256, ...(m.revision !== undefined ? { revision: m.revision } : {}) },
    dictionary: { name: checked.dictionary.name, version: checked.dictionary.version },
    thesaurus: checked.thesaurus,
  };
}

export interface ConvertReport {
  readonly format: typeof REPORT_FORMAT;
  readonly version: 1;
  readonly mapping: ReportMeta["mapping"];
  readonly dictionary: ReportMeta["dictionary"];
  readonly thesaurus: ReportMeta["thesaurus"];
  readonly input: ConvertSummary["input"];
  readonly output: ConvertSummary["output"] & { readonly records: number };
  readonly counts: ConvertSummary["counts"];
  /** rowsIn = rowsUsed + rowsRejected + rowsIgnored (always true; kept so readers can check). */
  readonly reconciled: boolean;
  readonly issueCounts: Record<string, { error: number; warning: number; info: number }>;
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
    thesaurus: meta.thesaurus,
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

export const SEVERITY_LABEL = { error: "エラー", warning: "警告", info: "情報" } as const;

const ISSUE_HEADER = ["重要度", "コード", "行", "列", "項目", "内容"];

/** Issues as CSV (UTF-8 with BOM so spreadsheets in Japan open it correctly, CRLF). */
export function issuesToCsv(issues: readonly Issue[]): string {
  const lines = [ISSUE_HEADER.join(",")];
  for (const i of issues) {
    const cells = [
      SEVERITY_LABEL[i.severity],
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
