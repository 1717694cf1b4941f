/**
 * 監視: transfer counts by status, recent conversion runs (counts and issue codes), the ledger's size
 * and latest checkpoint, the last backup, records per receiver and month. No personal data.
 */
import { useCallback, useEffect, useState } from "preact/hooks";
import { apiErrorOf, type ApiError } from "../api.js";
import { useApp } from "../app-context.js";
import { ClusterNodes, type ClusterMonitoring } from "../components/cluster-nodes.js";
import { ErrorAlert } from "../components/messages.js";
import { PageHeading } from "../components/page-heading.js";
import { StatusLabel } from "../components/status-label.js";
import { formatBytes } from "../format.js";
import { useI18n } from "../i18n.js";
import { useInstitutionNames } from "../institution-names.js";
import { issueName } from "../issue-codes.js";
import { useDates } from "../use-dates.js";
import type { TransferStatus } from "../types.js";
import { DataTable } from "../components/data-table.js";
import { alertLine, type AlertView } from "../alert-line.js";

interface Monitoring {
  readonly transfersByStatus: Readonly<Record<string, number>>;
  readonly conversionRuns: readonly {
    readonly transfer: string;
    readonly sender: string;
    readonly receiver: string;
    readonly status: TransferStatus;
    readonly createdAt: string;
    readonly rowsIn: number | null;
    readonly recordsOut: number | null;
    readonly rowsRejected: number | null;
    readonly issueCodes: Readonly<Record<string, { readonly error: number; readonly warning: number }>>;
  }[];
  readonly ledger: {
    readonly size: number;
    readonly checkpointSize: number;
    readonly checkpoint: string | null;
  };
  readonly lastBackup: { readonly file: string; readonly bytes: number; readonly createdAt: string } | null;
  readonly recordCounts: readonly {
    readonly receiver: string;
    readonly month: string;
    readonly records: number;
  }[];
  /** L6 alerts, newest first. */
  readonly alerts?: readonly AlertView[];
  /** Issue 10: the cluster's nodes (absent on a single node). */
  readonly cluster?: ClusterMonitoring;
  /** T1 clock status. */
  readonly time?: { readonly synchronized: boolean | null; readonly configured: readonly string[] };
}

const STATUSES: readonly TransferStatus[] = [
  "converted",
  "sent",
  "downloaded",
  "received",
  "discarded",
  "deleted",
];

export function AdminMonitoringPage() {
  const { api } = useApp();
  const { t, lang } = useI18n();
  const dates = useDates();
  const nameOf = useInstitutionNames(api);
  const [data, setData] = useState<Monitoring>();
  const [error, setError] = useState<ApiError>();

  const load = useCallback(async (): Promise<void> => {
    try {
      setData(await api.get<Monitoring>("/api/v1/admin/monitoring"));
    } catch (e) {
      setError(apiErrorOf(e));
    }
  }, [api]);
  useEffect(() => {
    void load();
  }, [load]);

  return (
    <main id="main">
      <PageHeading text={t("monitoringTitle")} />
      <p class="hint">{t("adminNoResults")}</p>
      <ErrorAlert error={error} />
      <button type="button" onClick={() => void load()}>
        {t("refresh")}
      </button>
      {data ? (
        <>
          <ul id="mon-alerts" class="alerts">
            {(data.alerts ?? []).map((a) => (
              <li key={`${a.time}-${a.kind}`} class="alert-line">
                {alertLine(t, a, (iso) => dates.dateTime(iso))}
              </li>
            ))}
          </ul>
          {data.time ? (
            <p id="mon-time">
              {t(
                data.time.synchronized === true
                  ? "monTimeSynced"
                  : data.time.synchronized === false
                    ? "monTimeNotSynced"
                    : "monTimeUnknown",
                {
                  servers: data.time.configured.join(", "),
                },
              )}
            </p>
          ) : null}
          <h2>{t("monByStatus")}</h2>
          <DataTable caption={t("monByStatus")} class="counts" wrap={false}>
            {STATUSES.map((s) => (
              <tr key={s}>
                <th scope="row">
                  <StatusLabel viewer="admin" status={s} />
                </th>
                <td class="num">{data.transfersByStatus[s] ?? 0}</td>
              </tr>
            ))}
          </DataTable>

          <h2>{t("monLedger")}</h2>
          <dl class="facts">
            <dt>{t("monLedgerSize")}</dt>
            <dd>{data.ledger.size}</dd>
            <dt>{t("monBackup")}</dt>
            <dd>
              {data.lastBackup
                ? `${dates.dateTime(data.lastBackup.createdAt)} (${t("jst")}, ${formatBytes(data.lastBackup.bytes)})`
                : t("monNoBackup")}
            </dd>
          </dl>
          <h3>{t("monCheckpoint")}</h3>
          <pre>{data.ledger.checkpoint ?? "—"}</pre>
          {data.cluster === undefined ? null : <ClusterNodes cluster={data.cluster} />}

          <h2>{t("monRuns")}</h2>
          <DataTable
            caption={t("monRuns")}
            columns={[
              { label: t("colCreated"), zone: true },
              t("colSender"),
              t("colReceiver"),
              t("colTransfer"),
              t("colStatus"),
              t("countRowsIn"),
              t("countRecordsOut"),
              t("countRowsRejected"),
              t("colIssueCodes"),
            ]}
          >
            {data.conversionRuns.map((r) => (
              <tr key={r.transfer}>
                <td class="nowrap">{dates.dateTime(r.createdAt)}</td>
                <td>{nameOf(r.sender)}</td>
                <td>{nameOf(r.receiver)}</td>
                <td>
                  <code>{r.transfer}</code>
                </td>
                <td>
                  <StatusLabel viewer="admin" status={r.status} />
                </td>
                <td class="num">{r.rowsIn ?? "—"}</td>
                <td class="num">{r.recordsOut ?? "—"}</td>
                <td class="num">{r.rowsRejected ?? "—"}</td>
                <td>
                  {Object.entries(r.issueCodes).map(([code, n]) => (
                    <div key={code}>
                      {issueName(code, lang)} (<code>{code}</code>) {n.error + n.warning}
                    </div>
                  ))}
                </td>
              </tr>
            ))}
          </DataTable>

          <h2>{t("monRecordCounts")}</h2>
          <DataTable
            caption={t("monRecordCounts")}
            class="counts"
            wrap={false}
            columns={[t("colMonth"), t("colInstitution"), t("colCount")]}
          >
            {data.recordCounts.map((r) => (
              <tr key={`${r.month}-${r.receiver}`}>
                <td>{r.month}</td>
                <td>{nameOf(r.receiver)}</td>
                <td class="num">{r.records}</td>
              </tr>
            ))}
          </DataTable>
        </>
      ) : null}
    </main>
  );
}
