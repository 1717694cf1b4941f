/**
 * 転送の詳細, for both parties: the summary, the conversion report and its row issues, the actions the
 * status allows (sender: 送信確定 / 破棄; receiver: download with progress, 受領確定), and the audit
 * trail verified in this browser against the pinned verifier key.
 */
import { useCallback, useEffect, useState } from "preact/hooks";
import { apiErrorOf, type ApiError, type TransferProgress } from "../api.js";
import { useApp } from "../app-context.js";
import { IssuesTable } from "../components/issues-table.js";
import { ErrorAlert, StatusLine } from "../components/messages.js";
import { ModalDialog } from "../components/modal-dialog.js";
import { PageHeading } from "../components/page-heading.js";
import { percentOf, ProgressBar } from "../components/progress-bar.js";
import { StatusLabel } from "../components/status-label.js";
import { TrailTimeline } from "../components/trail-timeline.js";
import { downloadStandard } from "../envelope-transfer.js";
import { formatDate, formatDateTime, saveBytes } from "../format.js";
import { useI18n, type MessageKey } from "../i18n.js";
import { checkTrail, type TrailCheck } from "../trail-check.js";
import type { ConvertReport, TransferView } from "../types.js";

interface Detail {
  readonly transfer: TransferView;
  readonly report: ConvertReport | null;
}

export function TransferPage(props: { id: string }) {
  const { api, session, pin } = useApp();
  const { t, lang } = useI18n();
  const [detail, setDetail] = useState<Detail>();
  const [trail, setTrail] = useState<TrailCheck>();
  const [error, setError] = useState<ApiError>();
  const [done, setDone] = useState<MessageKey>();
  const [busy, setBusy] = useState(false);
  const [confirmDiscard, setConfirmDiscard] = useState(false);
  const [progress, setProgress] = useState<TransferProgress>();
  const [downloading, setDownloading] = useState(false);
  const path = `/api/v1/transfers/${encodeURIComponent(props.id)}`;

  const load = useCallback(async (): Promise<void> => {
    try {
      setDetail(await api.get<Detail>(path));
      const answer = await api.get<unknown>(`${path}/trail`);
      setTrail(
        pin.status === "unavailable"
          ? { checkpoint: undefined, entries: [], verified: false, result: undefined }
          : checkTrail(answer, pin.key),
      );
    } catch (e) {
      setError(apiErrorOf(e));
    }
  }, [api, path, pin]);

  useEffect(() => {
    void load();
  }, [load]);

  const act = async (action: "send" | "discard" | "receipt", message: MessageKey): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      await api.send("POST", `${path}/${action}`);
      setDone(message);
      await load();
    } catch (e) {
      setError(apiErrorOf(e));
    } finally {
      setBusy(false);
      setConfirmDiscard(false);
    }
  };

  const download = async (transfer: TransferView): Promise<void> => {
    setDownloading(true);
    setError(undefined);
    setDone(undefined);
    setProgress(undefined);
    try {
      const bytes = await downloadStandard(api, transfer.id, setProgress);
      saveBytes(bytes, `${transfer.id}.csv`, "text/csv");
      setDone("downloadDone");
      await load();
    } catch (e) {
      setError(apiErrorOf(e));
    } finally {
      setDownloading(false);
    }
  };

  const tr = detail?.transfer;
  const report = detail?.report ?? null;
  const isSender = session.role === "sender";
  const fact = (label: MessageKey, value: string) => (
    <>
      <dt>{t(label)}</dt>
      <dd>{value}</dd>
    </>
  );

  return (
    <main id="main">
      <PageHeading text={t("transferTitle")} />
      <ErrorAlert error={error} id="transfer-error" />
      <StatusLine text={done ? t(done) : undefined} id="transfer-done" />
      {tr ? (
        <>
          <section aria-labelledby="summary-heading">
            <h2 id="summary-heading">{t("summaryHeading")}</h2>
            <dl class="facts">
              {fact("fieldSender", tr.sender.name)}
              {fact("fieldReceiver", tr.receiver.name)}
              <dt>{t("fieldStatus")}</dt>
              <dd>
                <StatusLabel status={tr.status} />
              </dd>
              {fact("fieldCreated", formatDateTime(tr.createdAt, lang))}
              {tr.sentAt ? fact("fieldSent", formatDateTime(tr.sentAt, lang)) : null}
              {tr.downloadedAt ? fact("fieldDownloaded", formatDateTime(tr.downloadedAt, lang)) : null}
              {tr.receivedAt ? fact("fieldReceived", formatDateTime(tr.receivedAt, lang)) : null}
              <dt>{t("fieldDeleteAfter")}</dt>
              <dd>
                {formatDate(tr.deleteAfter, lang)}
                {tr.deletionSoon ? (
                  <>
                    {" "}
                    <strong class="soon">{t("deletionSoon")}</strong>
                  </>
                ) : null}
              </dd>
              <dt>{t("fieldOriginalHash")}</dt>
              <dd>
                <code>{tr.original.sha256}</code>
              </dd>
              {tr.standard ? (
                <>
                  <dt>{t("fieldStandardHash")}</dt>
                  <dd>
                    <code>{tr.standard.sha256}</code>
                  </dd>
                </>
              ) : null}
            </dl>
          </section>

          <section aria-labelledby="actions-heading">
            <h2 id="actions-heading">{t("actionsHeading")}</h2>
            {isSender && tr.status === "converted" ? (
              <div class="buttons">
                <button
                  type="button"
                  class="primary"
                  disabled={busy}
                  onClick={() => {
                    void act("send", "sentDone");
                  }}
                >
                  {t("confirmSend")}
                </button>
                <button
                  type="button"
                  class="danger"
                  disabled={busy}
                  onClick={() => {
                    setConfirmDiscard(true);
                  }}
                >
                  {t("discard")}
                </button>
              </div>
            ) : null}
            {!isSender && (tr.status === "sent" || tr.status === "downloaded") ? (
              <div class="buttons">
                <button
                  type="button"
                  class={tr.status === "sent" ? "primary" : undefined}
                  disabled={downloading || busy}
                  onClick={() => {
                    void download(tr);
                  }}
                >
                  {t("download")}
                </button>
                {tr.status === "downloaded" ? (
                  <button
                    type="button"
                    class="primary"
                    disabled={downloading || busy}
                    onClick={() => {
                      void act("receipt", "receiptDone");
                    }}
                  >
                    {t("confirmReceipt")}
                  </button>
                ) : null}
              </div>
            ) : null}
            {downloading ? (
              <ProgressBar
                label={t("downloadProgress")}
                progress={progress}
                text={t("downloading", { percent: percentOf(progress) })}
              />
            ) : null}
            <p class="hint">{t("deletionWarning")}</p>
          </section>

          <section aria-labelledby="report-heading">
            <h2 id="report-heading">{t("reportHeading")}</h2>
            {report ? <ReportSummary report={report} /> : <p>—</p>}
            <h3>{t("issuesHeading")}</h3>
            {report ? <IssuesTable report={report} /> : null}
          </section>

          <section aria-labelledby="trail-heading">
            <h2 id="trail-heading">{t("trailHeading")}</h2>
            <p class="hint">{t("trailIntro")}</p>
            {trail ? (
              <TrailTimeline check={trail} transfer={tr} />
            ) : (
              <p role="status">{t("trailVerifying")}</p>
            )}
          </section>
        </>
      ) : error ? null : (
        <p role="status">{t("loading")}</p>
      )}
      <ModalDialog
        open={confirmDiscard}
        title={t("discardTitle")}
        onCancel={() => {
          setConfirmDiscard(false);
        }}
      >
        <p>{t("discardText")}</p>
        <div class="buttons">
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={() => {
              void act("discard", "discardDone");
            }}
          >
            {t("discardYes")}
          </button>
          <button
            type="button"
            onClick={() => {
              setConfirmDiscard(false);
            }}
          >
            {t("cancel")}
          </button>
        </div>
      </ModalDialog>
    </main>
  );
}

function ReportSummary(props: { report: ConvertReport }) {
  const { t } = useI18n();
  const c = props.report.counts;
  const totals = Object.values(props.report.issueCounts).reduce(
    (acc, n) => ({ error: acc.error + n.error, warning: acc.warning + n.warning }),
    { error: 0, warning: 0 },
  );
  const row = (label: MessageKey, n: number) => (
    <tr>
      <th scope="row">{t(label)}</th>
      <td class="num">{n}</td>
    </tr>
  );
  return (
    <>
      <table class="counts">
        <caption>{t("reportHeading")}</caption>
        <tbody>
          {row("countRowsIn", c.rowsIn)}
          {row("countRecordsOut", c.recordsOut)}
          {row("countRowsRejected", c.rowsRejected)}
          {row("countRowsIgnored", c.rowsIgnored)}
          {row("countErrors", totals.error)}
          {row("countWarnings", totals.warning)}
        </tbody>
      </table>
      <p>{props.report.reconciled ? t("reconciled") : t("notReconciled")}</p>
    </>
  );
}
