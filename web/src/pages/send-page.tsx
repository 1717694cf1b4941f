/**
 * 送信: choose a receiver and a file; the file is sealed in the browser (application-layer envelope)
 * and uploaded with a progress bar; the service converts it and the transfer page shows the summary,
 * the row issues and the 送信確定 / 破棄 buttons.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { apiErrorOf, type ApiError, type TransferProgress } from "../api.js";
import { useApp } from "../app-context.js";
import { ErrorAlert } from "../components/messages.js";
import { PageHeading } from "../components/page-heading.js";
import { percentOf, ProgressBar } from "../components/progress-bar.js";
import { uploadExport, type UploadPhase } from "../envelope-transfer.js";
import { errorText } from "../error-text.js";
import { useI18n } from "../i18n.js";
import { navigate } from "../router.js";
import { isFileProblem, notCsvReason, withoutInternalPath } from "../upload-advice.js";

interface Receiver {
  readonly id: string;
  readonly name: string;
}

export function SendPage() {
  const { api } = useApp();
  const { t, lang } = useI18n();
  const [advice, setAdvice] = useState(false);
  const [receivers, setReceivers] = useState<readonly Receiver[]>();
  const [receiverId, setReceiverId] = useState("");
  const [file, setFile] = useState<File>();
  const [phase, setPhase] = useState<UploadPhase>();
  const [progress, setProgress] = useState<TransferProgress>();
  const [error, setError] = useState<ApiError | string>();
  const abort = useRef<AbortController | undefined>(undefined);

  useEffect(() => {
    api
      .get<{ receivers: Receiver[] }>("/api/v1/receivers")
      .then((r) => {
        setReceivers(r.receivers);
        if (r.receivers.length === 1 && r.receivers[0]) setReceiverId(r.receivers[0].id);
      })
      .catch((e: unknown) => {
        setError(apiErrorOf(e));
      });
  }, [api]);

  const upload = async (): Promise<void> => {
    if (receiverId === "" || !file) {
      setError(t("sendMissing"));
      return;
    }
    setError(undefined);
    setAdvice(false);
    setProgress(undefined);
    const reason = await notCsvReason(file);
    if (reason !== undefined) {
      setError(t(reason));
      return;
    }
    const controller = new AbortController();
    abort.current = controller;
    try {
      const result = await uploadExport(api, {
        receiverId,
        file,
        onPhase: (p) => {
          setPhase(p);
          setProgress(undefined);
        },
        onProgress: setProgress,
        signal: controller.signal,
      });
      navigate(`/transfers/${result.transfer.id}`);
    } catch (e) {
      const err = apiErrorOf(e);
      if (err.code === "CANCELLED") setError(t("sendCancelled"));
      else if (isFileProblem(err)) {
        const text = lang === "ja" ? withoutInternalPath(err.text) : errorText(err, lang);
        setError(lang === "ja" ? `ファイルを変換できません: ${text}` : text);
        setAdvice(true);
      } else setError(err);
      setPhase(undefined);
    } finally {
      abort.current = undefined;
    }
  };

  const busy = phase !== undefined;
  const phaseText =
    phase === "encrypting"
      ? progress
        ? t("sendEncryptingPercent", { percent: percentOf(progress) })
        : t("sendEncrypting")
      : phase === "uploading"
        ? t("sendUploading", { percent: percentOf(progress) })
        : phase === "converting"
          ? t("sendConverting")
          : "";

  return (
    <main id="main" class="narrow">
      <PageHeading text={t("sendTitle")} />
      <p>{t("sendIntro")}</p>
      {receivers?.length === 0 ? <p class="message error">{t("sendNoReceivers")}</p> : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void upload();
        }}
      >
        <div class="field">
          <label for="send-receiver">{t("sendReceiver")}</label>
          <select
            id="send-receiver"
            required
            value={receiverId}
            disabled={busy}
            onChange={(e) => {
              setReceiverId(e.currentTarget.value);
            }}
          >
            <option value="">{t("sendChooseReceiver")}</option>
            {(receivers ?? []).map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="send-file">{t("sendFile")}</label>
          <input
            id="send-file"
            type="file"
            required
            disabled={busy}
            accept=".csv,.txt,text/csv"
            onChange={(e) => {
              setFile(e.currentTarget.files?.[0]);
            }}
          />
        </div>
        <ErrorAlert error={error} id="send-error" />
        {advice ? (
          <p class="hint" id="send-advice">
            {t("sendAdvice")}
          </p>
        ) : null}
        <button type="submit" class="primary" disabled={busy}>
          {t("sendUpload")}
        </button>
        {busy ? (
          <ProgressBar
            label={t("sendProgress")}
            progress={phase === "uploading" || phase === "encrypting" ? progress : undefined}
            text={phaseText}
          />
        ) : null}
        {phase === "encrypting" || phase === "uploading" ? (
          <button
            type="button"
            onClick={() => {
              abort.current?.abort();
            }}
          >
            {t("sendCancel")}
          </button>
        ) : null}
      </form>
    </main>
  );
}
