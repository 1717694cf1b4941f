/**
 * The issue list as a CSV for the clerk who fixes the export (opened in Excel, printed, handed on): row,
 * column, item, what is wrong and what to do — codes and positions only, never a row value. RFC 4180
 * quoting and CRLF; a cell that Excel would run as a formula is prefixed with 「'」.
 */
import { issueAdvice, issueName } from "./issue-codes.js";
import type { Lang } from "./i18n.js";
import type { Issue, ItemLabels } from "./types.js";

function cell(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

const HEADINGS: Readonly<Record<Lang, readonly string[]>> = {
  ja: ["行", "重要度", "指摘", "列", "項目", "内容", "直し方", "コード"],
  en: ["Row", "Severity", "Issue", "Column", "Item", "Message", "How to fix", "Code"],
};

/** Where in the export an issue points: its own column, else the columns its item is read from. */
export function issueColumn(issue: Issue, labels: ItemLabels): string {
  if (issue.column !== undefined) return issue.column;
  const columns = issue.item === undefined ? [] : (labels[issue.item]?.columns ?? []);
  return columns.join("、");
}

export function issueItemName(issue: Issue, labels: ItemLabels): string {
  if (issue.item === undefined) return "";
  return labels[issue.item]?.name ?? issue.item;
}

export function issuesCsv(issues: readonly Issue[], labels: ItemLabels, lang: Lang): string {
  const lines = [HEADINGS[lang].map(cell).join(",")];
  for (const i of issues) {
    lines.push(
      [
        i.row === 0 ? "" : String(i.row),
        i.severity === "error" ? (lang === "ja" ? "エラー" : "Error") : lang === "ja" ? "警告" : "Warning",
        issueName(i.code, lang),
        issueColumn(i, labels),
        issueItemName(i, labels),
        i.message,
        issueAdvice(i.code, lang),
        i.code,
      ]
        .map(cell)
        .join(","),
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}
