/**
 * The conversion's row issues (指摘), in a clerk's words: what is wrong (the code's Japanese name, the
 * code beside it), the source row and the export's column — also for item-level issues such as an empty
 * 受診日, through the mapping's column for that item — the item's name in the standard, and what to do.
 * Filterable by severity and kind; downloadable as CSV for Excel (Shift_JIS or UTF-8 with BOM) and
 * printable. Issues hold codes and positions, never values.
 */
import { useId, useState } from "preact/hooks";
import { encodeCp932, encodeUtf8Bom } from "../cp932-encode.js";
import { downloadFileName } from "../download-copies.js";
import { fileDate, saveBytes } from "../format.js";
import { useI18n } from "../i18n.js";
import { issueAdvice, issueName } from "../issue-codes.js";
import { issueColumn, issueItemName, issuesCsv } from "../issues-csv.js";
import type { ConvertReport, IssueSeverity, ItemLabels, TransferView } from "../types.js";

export function IssuesTable(props: { report: ConvertReport; labels: ItemLabels; transfer: TransferView }) {
  const { t, lang } = useI18n();
  const [severity, setSeverity] = useState<IssueSeverity | "all">("all");
  const [code, setCode] = useState("all");
  const [encoding, setEncoding] = useState<"cp932" | "utf8-bom">("cp932");
  const severityId = useId();
  const codeId = useId();
  const encodingId = useId();
  const { issues } = props.report;
  const codes = [...new Set(issues.map((i) => i.code))].sort();
  const shown = issues.filter(
    (i) => (severity === "all" || i.severity === severity) && (code === "all" || i.code === code),
  );
  if (issues.length === 0) return <p>{t("issuesNone")}</p>;

  const download = (): void => {
    const text = issuesCsv(shown, props.labels, lang);
    // Messages and names are all CP932-representable; UTF-8 with BOM is the fallback regardless.
    const bytes = (encoding === "cp932" ? encodeCp932(text) : undefined) ?? encodeUtf8Bom(text);
    const tr = props.transfer;
    saveBytes(
      bytes,
      downloadFileName({
        prefix: lang === "ja" ? "指摘一覧" : "issues",
        sender: tr.sender.name,
        receiver: tr.receiver.name,
        date: fileDate(tr.createdAt),
      }),
      "text/csv",
    );
  };

  return (
    <div>
      {props.report.issuesTruncated ? (
        <p>{t("issuesTruncated", { shown: issues.length, total: props.report.issuesTotal })}</p>
      ) : null}
      <div class="filters no-print">
        <label for={severityId}>{t("filterSeverity")}</label>
        <select
          id={severityId}
          value={severity}
          onChange={(e) => {
            const v = e.currentTarget.value;
            setSeverity(v === "error" || v === "warning" ? v : "all");
          }}
        >
          <option value="all">{t("filterAll")}</option>
          <option value="error">{t("severityError")}</option>
          <option value="warning">{t("severityWarning")}</option>
        </select>
        <label for={codeId}>{t("filterCode")}</label>
        <select
          id={codeId}
          value={code}
          onChange={(e) => {
            setCode(e.currentTarget.value);
          }}
        >
          <option value="all">{t("filterAll")}</option>
          {codes.map((c) => (
            <option key={c} value={c}>
              {issueName(c, lang)} ({c})
            </option>
          ))}
        </select>
        <span role="status">{t("issuesShown", { shown: shown.length, total: issues.length })}</span>
      </div>
      <div class="filters no-print">
        <label for={encodingId}>{t("downloadFormat")}</label>
        <select
          id={encodingId}
          value={encoding}
          onChange={(e) => {
            setEncoding(e.currentTarget.value === "utf8-bom" ? "utf8-bom" : "cp932");
          }}
        >
          <option value="cp932">{t("formatCp932")}</option>
          <option value="utf8-bom">{t("formatBom")}</option>
        </select>
        <button type="button" onClick={download}>
          {t("issuesDownload")}
        </button>
        <button
          type="button"
          onClick={() => {
            print();
          }}
        >
          {t("issuesPrint")}
        </button>
      </div>
      <div class="table-wrap">
        <table class="issues">
          <caption>{t("issuesHeading")}</caption>
          <thead>
            <tr>
              <th scope="col" class="num">
                {t("colRow")}
              </th>
              <th scope="col">{t("colSeverity")}</th>
              <th scope="col">{t("colCode")}</th>
              <th scope="col">{t("colColumn")}</th>
              <th scope="col">{t("colItem")}</th>
              <th scope="col">{t("colMessage")}</th>
              <th scope="col">{t("colAdvice")}</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((i, n) => (
              <tr key={n} class={i.severity}>
                <td class="num">{i.row === 0 ? "—" : i.row}</td>
                <td class="nowrap">{i.severity === "error" ? t("severityError") : t("severityWarning")}</td>
                <td>
                  {issueName(i.code, lang)}
                  <br />
                  <code class="issue-code">{i.code}</code>
                </td>
                <td>{issueColumn(i, props.labels) || "—"}</td>
                <td>{issueItemName(i, props.labels) || "—"}</td>
                <td>{i.message}</td>
                <td>{issueAdvice(i.code, lang)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
