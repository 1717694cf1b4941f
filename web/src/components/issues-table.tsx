/**
 * The conversion's row issues (指摘), filterable by severity and code, with the source row and column
 * so staff can find and fix the line in their own export. Issues hold codes and positions, never values.
 */
import { useId, useState } from "preact/hooks";
import { useI18n } from "../i18n.js";
import type { ConvertReport, IssueSeverity } from "../types.js";

export function IssuesTable(props: { report: ConvertReport }) {
  const { t } = useI18n();
  const [severity, setSeverity] = useState<IssueSeverity | "all">("all");
  const [code, setCode] = useState("all");
  const severityId = useId();
  const codeId = useId();
  const { issues } = props.report;
  const codes = [...new Set(issues.map((i) => i.code))].sort();
  const shown = issues.filter(
    (i) => (severity === "all" || i.severity === severity) && (code === "all" || i.code === code),
  );
  if (issues.length === 0) return <p>{t("issuesNone")}</p>;
  return (
    <div>
      {props.report.issuesTruncated ? (
        <p>{t("issuesTruncated", { shown: issues.length, total: props.report.issuesTotal })}</p>
      ) : null}
      <div class="filters">
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
              {c}
            </option>
          ))}
        </select>
        <span role="status">{t("issuesShown", { shown: shown.length, total: issues.length })}</span>
      </div>
      <div class="table-wrap">
        <table class="issues">
          <caption>{t("issuesHeading")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("colSeverity")}</th>
              <th scope="col">{t("colCode")}</th>
              <th scope="col">{t("colRow")}</th>
              <th scope="col">{t("colColumn")}</th>
              <th scope="col">{t("colItem")}</th>
              <th scope="col">{t("colMessage")}</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((i, n) => (
              <tr key={n} class={i.severity}>
                <td>{i.severity === "error" ? t("severityError") : t("severityWarning")}</td>
                <td>
                  <code>{i.code}</code>
                </td>
                <td class="num">{i.row === 0 ? "—" : i.row}</td>
                <td>{i.column ?? "—"}</td>
                <td>{i.item ?? "—"}</td>
                <td>{i.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
