/**
 * 転送の詳細, for both parties: the summary, the conversion report and its row issues, the actions the
 * status allows — sender: 送信確定 (confirmed in a dialog that says how many rows are not sent) / 破棄;
 * receiver: download with progress in the chosen form (the standard CSV as is, or a copy for Excel) under
 * a name that says whose file it is, again as often as needed until the deletion date, and 受領確定
 * (confirmed in a dialog) — and the audit trail verified in this browser against the pinned verifier key.
 */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
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
import { copyFor, DOWNLOAD_FORMATS, downloadFileName, type DownloadFormat } from "../download-copies.js";
import { fileDate, saveBytes } from "../format.js";
import { announceTransferChange } from "../new-arrivals.js";
import { useI18n, type MessageKey } from "../i18n.js";
import {
  canPickSaveTarget,
  pickSaveTarget,
  SAVE_AS_IT_ARRIVES_BYTES,
  type SaveTarget,
} from "../save-target.js";
import { checkSigningTrust } from "../signing-trust-pin.js";
import { checkTimeline, type TimelineSigning } from "../timeline-check.js";
import { checkTrail, type TrailCheck } from "../trail-check.js";
import type { ConvertReport, TransferDetail, TransferView } from "../types.js";
import { useDates } from "../use-dates.js";

const FORMAT_KEYS: Readonly<Record<DownloadFormat, MessageKey>> = {
  standard: "formatStandard",
  cp932: "formatCp932",
  "utf8-bom": "formatBom",
};

type Confirming = "send" | "discard" | "receipt" | undefined;

export function TransferPage(props: { id: string }) {
  const { api, session, pin } = useApp();
  const { t, lang } = useI18n();
  const dates = useDates();
  const [detail, setDetail] = useState<TransferDetail>();
  const [trail, setTrail] = useState<TrailCheck>();
  const [signing, setSigning] = useState<TimelineSigning>();
  const [deviceLabels, setDeviceLabels] = useState<Readonly<Record<string, string>>>({});
  const [error, setError] = useState<ApiError | string>();
  const [done, setDone] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState<Confirming>();
  const [format, setFormat] = useState<DownloadFormat>("standard");
  const [codeHeader, setCodeHeader] = useState(false);
  const [progress, setProgress] = useState<TransferProgress>();
  const [downloading, setDownloading] = useState(false);
  const downloadAbort = useRef<AbortController | undefined>(undefined);
  // Write to a chosen file as it arrives: where the browser can, chosen by default for large files.
  const [asItArrives, setAsItArrives] = useState<boolean>();
  const path = `/api/v1/transfers/${encodeURIComponent(props.id)}`;

  const load = useCallback(async (): Promise<void> => {
    try {
      setDetail(await api.get<TransferDetail>(path));
      const answer = await api.get<unknown>(`${path}/trail`);
      const labels = (answer as { deviceLabels?: unknown } | null)?.deviceLabels;
      setDeviceLabels(
        labels !== null && typeof labels === "object" ? (labels as Record<string, string>) : {},
      );
      const checked: TrailCheck =
        pin.status === "unavailable"
          ? { checkpoint: undefined, entries: [], verified: false, result: undefined }
          : checkTrail(answer, pin.key, pin.cosigners === undefined ? {} : { cosigners: pin.cosigners });
      setTrail(checked);
      setSigning(undefined);
      // Signers and times, against the pinned seal / TSA anchors (as the 検証 page checks them).
      const trust = await checkSigningTrust(api, new Date());
      setSigning(
        await checkTimeline(checked, answer, trust.status === "unavailable" ? undefined : trust.anchors),
      );
    } catch (e) {
      setError(apiErrorOf(e));
    }
  }, [api, path, pin]);

  useEffect(() => {
    void load();
  }, [load]);

  const act = async (action: "send" | "discard" | "receipt", message: string): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      await api.send("POST", `${path}/${action}`);
      setDone(message);
      await load();
      announceTransferChange();
    } catch (e) {
      setError(apiErrorOf(e));
    } finally {
      setBusy(false);
      setConfirming(undefined);
    }
  };

  const download = async (transfer: TransferView): Promise<void> => {
    const name = downloadFileName({
      prefix: lang === "ja" ? "健診結果" : "results",
      sender: transfer.sender.name,
      receiver: transfer.receiver.name,
      date: fileDate(transfer.sentAt ?? transfer.createdAt),
      ...(format === "standard" ? {} : { suffix: lang === "ja" ? "Excel用" : "Excel" }),
    });
    const controller = new AbortController();
    downloadAbort.current = controller;
    setDownloading(true);
    setError(undefined);
    setDone(undefined);
    setProgress(undefined);
    let target: SaveTarget | undefined;
    try {
      // The standard CSV is written to the chosen file as it arrives (asked first: the picker needs the
      // click); an Excel copy is made from the whole file, so it is gathered and saved at the end.
      target = format === "standard" && wantsAsItArrives(transfer) ? await pickSaveTarget(name) : undefined;
      const csv = await downloadStandard(api, transfer.id, setProgress, {
        total: transfer.standard?.bytes,
        codeHeader,
        signal: controller.signal,
        ...(target ? { sink: target } : {}),
      });
      if (target) await target.close();
      else if (csv) {
        const copy = format === "standard" ? csv : copyFor(new Uint8Array(await csv.arrayBuffer()), format);
        if (copy === undefined) {
          setError(t("formatNotEncodable"));
          return;
        }
        saveBytes(copy, name, "text/csv");
      }
      setDone(t("downloadDone"));
      await load();
      announceTransferChange();
    } catch (e) {
      await target?.abort();
      const err = apiErrorOf(e);
      if (err.code === "CANCELLED") setError(t("downloadCancelled"));
      else setError(err);
    } finally {
      downloadAbort.current = undefined;
      setDownloading(false);
    }
  };

  const wantsAsItArrives = (transfer: TransferView): boolean =>
    canPickSaveTarget() && (asItArrives ?? (transfer.standard?.bytes ?? 0) >= SAVE_AS_IT_ARRIVES_BYTES);

  const tr = detail?.transfer;
  const report = detail?.report ?? null;
  const isSender = session.role === "sender";
  const rejected = report?.counts.rowsRejected ?? tr?.rowsRejected ?? 0;
  const canDownload =
    !isSender &&
    tr !== undefined &&
    !tr.damaged &&
    (tr.status === "sent" || tr.status === "downloaded" || tr.status === "received");
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
      <StatusLine text={done} id="transfer-done" />
      {tr ? (
        <>
          <section aria-labelledby="summary-heading">
            <h2 id="summary-heading">{t("summaryHeading")}</h2>
            <dl class="facts">
              {fact("fieldSender", tr.sender.name)}
              {fact("fieldReceiver", tr.receiver.name)}
              <dt>{t("fieldStatus")}</dt>
              <dd>
                <StatusLabel
                  status={tr.status}
                  viewer={session.role}
                  damaged={tr.damaged}
                  repairing={tr.repairing}
                />
              </dd>
              {fact("fieldCreated", `${dates.dateTime(tr.createdAt)} (${t("jst")})`)}
              {tr.sentAt ? fact("fieldSent", `${dates.dateTime(tr.sentAt)} (${t("jst")})`) : null}
              {tr.downloadedAt
                ? fact("fieldDownloaded", `${dates.dateTime(tr.downloadedAt)} (${t("jst")})`)
                : null}
              {tr.receivedAt ? fact("fieldReceived", `${dates.dateTime(tr.receivedAt)} (${t("jst")})`) : null}
              <dt>{t("fieldDeleteAfter")}</dt>
              <dd>
                {dates.date(tr.deleteAfter)}
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
            {tr.damaged ? (
              <p class="damaged-note" role="alert" id="transfer-damaged">
                {t("transferDamagedNote")}
              </p>
            ) : null}
            {tr.repairing && !tr.damaged ? (
              <p class="repairing-note" role="status" id="transfer-repairing">
                {t("transferRepairingNote")}
              </p>
            ) : null}
            {isSender && tr.status === "converted" ? (
              <div class="buttons">
                <button
                  type="button"
                  class="primary"
                  disabled={busy}
                  onClick={() => {
                    setConfirming("send");
                  }}
                >
                  {t("confirmSend")}
                </button>
                <button
                  type="button"
                  class="danger"
                  disabled={busy}
                  onClick={() => {
                    setConfirming("discard");
                  }}
                >
                  {t("discard")}
                </button>
              </div>
            ) : null}
            {canDownload ? (
              <>
                <fieldset class="formats">
                  <legend>{t("downloadFormat")}</legend>
                  {DOWNLOAD_FORMATS.map((f) => (
                    <label key={f}>
                      <input
                        type="radio"
                        name="download-format"
                        value={f}
                        checked={format === f}
                        onChange={() => {
                          setFormat(f);
                        }}
                      />{" "}
                      {t(FORMAT_KEYS[f])}
                    </label>
                  ))}
                  <label>
                    <input
                      type="checkbox"
                      name="code-header"
                      checked={codeHeader}
                      onChange={(e) => {
                        setCodeHeader(e.currentTarget.checked);
                      }}
                    />{" "}
                    {t("formatCodeHeader")}
                  </label>
                  {canPickSaveTarget() && format === "standard" ? (
                    <label>
                      <input
                        type="checkbox"
                        name="save-as-it-arrives"
                        checked={wantsAsItArrives(tr)}
                        onChange={(e) => {
                          setAsItArrives(e.currentTarget.checked);
                        }}
                      />{" "}
                      {t("saveAsItArrives")}
                    </label>
                  ) : null}
                  <p class="hint">{t("formatNote")}</p>
                </fieldset>
                <div class="buttons">
                  <button
                    type="button"
                    class={tr.status === "sent" ? "primary" : undefined}
                    disabled={downloading || busy}
                    onClick={() => {
                      void download(tr);
                    }}
                  >
                    {tr.status === "sent" ? t("download") : t("downloadAgain")}
                  </button>
                  {tr.status === "downloaded" ? (
                    <button
                      type="button"
                      class="primary"
                      disabled={downloading || busy}
                      onClick={() => {
                        setConfirming("receipt");
                      }}
                    >
                      {t("confirmReceipt")}
                    </button>
                  ) : null}
                </div>
              </>
            ) : null}
            {downloading ? (
              <>
                <ProgressBar
                  label={t("downloadProgress")}
                  progress={progress}
                  text={t("downloading", { percent: percentOf(progress) })}
                />
                <button
                  type="button"
                  onClick={() => {
                    downloadAbort.current?.abort();
                  }}
                >
                  {t("downloadCancel")}
                </button>
              </>
            ) : null}
            <p class="hint">{t("deletionWarning")}</p>
          </section>

          <section aria-labelledby="report-heading">
            <h2 id="report-heading">{t("reportHeading")}</h2>
            {report ? <ReportSummary report={report} /> : <p>—</p>}
            <h3>{t("issuesHeading")}</h3>
            {report ? <IssuesTable report={report} labels={detail.itemLabels} transfer={tr} /> : null}
          </section>

          <section aria-labelledby="trail-heading">
            <h2 id="trail-heading">{t("trailHeading")}</h2>
            <p class="hint">{t("trailIntro")}</p>
            {trail ? (
              <TrailTimeline check={trail} transfer={tr} deviceLabels={deviceLabels} signing={signing} />
            ) : (
              <p role="status">{t("trailVerifying")}</p>
            )}
          </section>
        </>
      ) : error ? null : (
        <p role="status">{t("loading")}</p>
      )}
      <ModalDialog
        open={confirming === "discard"}
        title={t("discardTitle")}
        onCancel={() => {
          setConfirming(undefined);
        }}
      >
        <p>{t("discardText")}</p>
        <ConfirmButtons
          yes={t("discardYes")}
          danger
          busy={busy}
          onYes={() => {
            void act("discard", t("discardDone"));
          }}
          onNo={() => {
            setConfirming(undefined);
          }}
        />
      </ModalDialog>
      <ModalDialog
        open={confirming === "send" && tr !== undefined}
        title={t("sendConfirmTitle")}
        onCancel={() => {
          setConfirming(undefined);
        }}
      >
        <p>{t("sendConfirmText", { receiver: tr?.receiver.name ?? "", records: tr?.records ?? 0 })}</p>
        {rejected > 0 ? (
          <p class="message error">
            <strong>{t("sendConfirmRejected", { rows: rejected })}</strong>
          </p>
        ) : null}
        <ConfirmButtons
          yes={t("sendConfirmYes")}
          busy={busy}
          onYes={() => {
            void act("send", rejected > 0 ? t("sentDoneRejected", { rows: rejected }) : t("sentDone"));
          }}
          onNo={() => {
            setConfirming(undefined);
          }}
        />
      </ModalDialog>
      <ModalDialog
        open={confirming === "receipt"}
        title={t("receiptConfirmTitle")}
        onCancel={() => {
          setConfirming(undefined);
        }}
      >
        <p>{t("receiptConfirmText")}</p>
        <ConfirmButtons
          yes={t("receiptConfirmYes")}
          busy={busy}
          onYes={() => {
            void act("receipt", t("receiptDone"));
          }}
          onNo={() => {
            setConfirming(undefined);
          }}
        />
      </ModalDialog>
    </main>
  );
}

function ConfirmButtons(props: {
  yes: string;
  danger?: boolean;
  busy: boolean;
  onYes: () => void;
  onNo: () => void;
}) {
  const { t } = useI18n();
  return (
    <div class="buttons">
      <button
        type="button"
        class={props.danger === true ? "danger" : "primary"}
        disabled={props.busy}
        onClick={props.onYes}
      >
        {props.yes}
      </button>
      <button type="button" onClick={props.onNo}>
        {t("cancel")}
      </button>
    </div>
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
