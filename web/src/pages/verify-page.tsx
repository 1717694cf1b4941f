/**
 * 検証: a file dropped or chosen here, or one pasted CSV record, is hashed in this browser (the file
 * never leaves the computer); only the hash goes to POST /api/v1/lookup, and the answer — checkpoint
 * signature, inclusion proofs and, for a record, the proof within its file — is verified here against
 * the pinned verifier key. A file that is not itself on record is then checked record by record (as
 * `kenshin verify --url` does), and the page says which records are still proven and which are not.
 * For a file or record on record, the transfer's seal is checked here too (seal-check.ts, against the
 * pinned trust anchors): the RFC 3161 time stamp, and for a file the JWS signature over its bytes.
 */
import { useState } from "preact/hooks";
import { apiErrorOf, type ApiError } from "../api.js";
import { useApp } from "../app-context.js";
import { ErrorAlert } from "../components/messages.js";
import { PageHeading } from "../components/page-heading.js";
import { recordHashOfText, sha256OfFile } from "../hash.js";
import { useI18n } from "../i18n.js";
import { checkRecords, MAX_RECORD_LOOKUPS, type RecordCheck } from "../record-check.js";
import { checkRecordedDeviceSignature } from "../../../src/client/device-signature-check.js";
import { SealPanel, type SealState } from "../components/seal-panel.js";
import { checkSeal, MAX_SIGNED_BYTES } from "../seal-check.js";
import { checkSigningTrust } from "../signing-trust-pin.js";
import { useDates } from "../use-dates.js";
import { checkTrail, type TrailCheck } from "../trail-check.js";
import type { TransferView } from "../types.js";

type Outcome =
  | {
      readonly kind: "ok";
      readonly what: "file" | "record";
      readonly hash: string;
      readonly check: TrailCheck;
      readonly transfer: TransferView;
    }
  | { readonly kind: "not-found" | "broken"; readonly what: "file" | "record"; readonly hash: string }
  | { readonly kind: "records"; readonly what: "file"; readonly hash: string; readonly check: RecordCheck };

export function VerifyPage() {
  const { api, pin } = useApp();
  const { t } = useI18n();
  const [file, setFile] = useState<File>();
  const [record, setRecord] = useState("");
  const [over, setOver] = useState(false);
  const [working, setWorking] = useState<string>();
  const [outcome, setOutcome] = useState<Outcome>();
  const [seal, setSeal] = useState<SealState>();
  const [error, setError] = useState<ApiError | string>();

  /** The seal of the transfer the verified answer belongs to, checked in this browser. */
  const checkSealOf = async (what: "file" | "record", hash: string, check: TrailCheck): Promise<void> => {
    const entry = check.entries.find(
      (e) => e.verified && e.record?.type === "seal" && (what === "record" || e.record.file.sha256 === hash),
    );
    const record = entry?.record;
    if (record?.type !== "seal") {
      setSeal({ kind: "none" });
      return;
    }
    setSeal({ kind: "checking" });
    const trust = await checkSigningTrust(api, new Date());
    if (trust.status === "unavailable") {
      setSeal({ kind: "checked", trust: trust.status, check: { signature: "failed", stamp: "failed" } });
      return;
    }
    // The signature covers the file's exact bytes: only a chosen file (not one record) can be checked.
    const bytes =
      what === "file" && file && file.size <= MAX_SIGNED_BYTES
        ? new Uint8Array(await file.arrayBuffer())
        : undefined;
    // The sender's device signature on the send entry of the same transfer, proven with the trail.
    const send = check.entries
      .filter((e) => e.verified && e.record?.type === "send" && e.record.transfer === record.transfer)
      .at(-1)?.record;
    const device = send !== undefined ? await checkRecordedDeviceSignature(send) : undefined;
    setSeal({
      kind: "checked",
      trust: trust.status,
      check: await checkSeal(record, trust.anchors, bytes),
      ...(device !== undefined ? { device } : {}),
    });
  };

  const lookup = async (what: "file" | "record", hash: string): Promise<void> => {
    setWorking(t("verifyLooking"));
    let answer: unknown;
    try {
      answer = await api.send<unknown>("POST", "/api/v1/lookup", { sha256: hash }, { sign: false });
    } catch (e) {
      const err = apiErrorOf(e);
      if (err.code !== "NOT_FOUND") setError(err);
      else if (what === "file" && file && pin.status !== "unavailable") {
        // Not this exact file: check it record by record.
        const bytes = new Uint8Array(await file.arrayBuffer());
        const check = await checkRecords(api, pin, bytes, (done, count) => {
          setWorking(t("verifyRecordsChecking", { done, count }));
        });
        setOutcome({ kind: "records", what, hash, check });
      } else setOutcome({ kind: "not-found", what, hash });
      return;
    }
    if (pin.status === "unavailable") {
      setOutcome({ kind: "broken", what, hash });
      return;
    }
    // With a cluster's node keys pinned, only a published (quorum-cosigned) checkpoint verifies.
    const check = checkTrail(answer, pin.key, {
      ...(what === "file" ? { fileSha256: hash } : { recordHash: hash }),
      ...(pin.cosigners === undefined ? {} : { cosigners: pin.cosigners }),
    });
    const transfer = (answer as { transfer?: TransferView }).transfer;
    setOutcome(
      check.verified && transfer
        ? { kind: "ok", what, hash, check, transfer }
        : { kind: "broken", what, hash },
    );
    if (check.verified && transfer) await checkSealOf(what, hash, check);
  };

  const run = async (what: "file" | "record"): Promise<void> => {
    setOutcome(undefined);
    setSeal(undefined);
    setError(undefined);
    try {
      if (what === "file") {
        if (!file) {
          setError(t("verifyNothing"));
          return;
        }
        const hash = await sha256OfFile(file, (f) => {
          setWorking(t("verifyHashing", { percent: Math.floor(f * 100) }));
        });
        await lookup("file", hash);
      } else {
        if (record.trim() === "") {
          setError(t("verifyNothing"));
          return;
        }
        await lookup("record", recordHashOfText(record));
      }
    } catch (e) {
      setError(apiErrorOf(e));
    } finally {
      setWorking(undefined);
    }
  };

  return (
    <main id="main">
      <PageHeading text={t("verifyTitle")} />
      <p>{t("verifyIntro")}</p>
      <div class="forms">
        <section aria-labelledby="verify-file-heading">
          <h2 id="verify-file-heading">{t("verifyFileHeading")}</h2>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void run("file");
            }}
          >
            <div
              class={over ? "drop-zone over" : "drop-zone"}
              onDragOver={(e) => {
                e.preventDefault();
                setOver(true);
              }}
              onDragLeave={() => {
                setOver(false);
              }}
              onDrop={(e) => {
                e.preventDefault();
                setOver(false);
                const dropped = e.dataTransfer?.files[0];
                if (dropped) {
                  setFile(dropped);
                  setOutcome(undefined);
                }
              }}
            >
              <div class="field">
                <label for="verify-file">{t("verifyFile")}</label>
                <input
                  id="verify-file"
                  type="file"
                  aria-describedby="verify-drop-hint"
                  onChange={(e) => {
                    setFile(e.currentTarget.files?.[0]);
                    setOutcome(undefined);
                  }}
                />
              </div>
              <p class="hint" id="verify-drop-hint">
                {t("verifyDrop")}
                {file ? ` — ${file.name}` : ""}
              </p>
            </div>
            <button type="submit" class="primary" disabled={working !== undefined}>
              {t("verifyFileButton")}
            </button>
          </form>
        </section>
        <section aria-labelledby="verify-record-heading">
          <h2 id="verify-record-heading">{t("verifyRecordHeading")}</h2>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void run("record");
            }}
          >
            <div class="field">
              <label for="verify-record">{t("verifyRecord")}</label>
              <textarea
                id="verify-record"
                rows={4}
                spellcheck={false}
                aria-describedby="verify-record-hint"
                value={record}
                onInput={(e) => {
                  setRecord(e.currentTarget.value);
                }}
              />
              <p class="hint" id="verify-record-hint">
                {t("verifyRecordHint")}
              </p>
            </div>
            <button type="submit" class="primary" disabled={working !== undefined}>
              {t("verifyRecordButton")}
            </button>
          </form>
        </section>
      </div>
      <ErrorAlert error={error} />
      <div id="verify-result" role="status">
        {working !== undefined ? <p>{working}</p> : null}
        {outcome ? <OutcomeView outcome={outcome} /> : null}
        {outcome?.kind === "ok" && seal !== undefined ? <SealPanel state={seal} /> : null}
      </div>
    </main>
  );
}

function recordsText(
  check: RecordCheck,
  t: ReturnType<typeof useI18n>["t"],
  date: (iso: string | null) => string,
) {
  if (check.kind !== "checked") {
    return check.kind === "too-many"
      ? { ok: false, text: t("verifyRecordsTooMany", { max: MAX_RECORD_LOOKUPS }) }
      : { ok: false, text: t("verifyNotFound") };
  }
  const proven = check.records.filter((r) => r.proven);
  const first = proven[0]?.transfer;
  if (first && proven.length === check.records.length) {
    return {
      ok: true,
      text: t("verifyRecordsAll", {
        count: proven.length,
        date: date(first.sentAt ?? first.createdAt),
        sender: first.sender.name,
      }),
    };
  }
  if (proven.length === 0) return { ok: false, text: t("verifyRecordsNone") };
  return {
    ok: false,
    text: t("verifyRecordsSome", {
      count: check.records.length,
      ok: proven.length,
      bad: check.records.length - proven.length,
    }),
  };
}

function OutcomeView(props: { outcome: Outcome }) {
  const { t } = useI18n();
  const dates = useDates();
  const o = props.outcome;
  let text: string;
  let ok = o.kind === "ok";
  if (o.kind === "records") {
    const r = recordsText(o.check, t, dates.date);
    text = r.text;
    ok = r.ok;
  } else if (o.kind === "ok") {
    const when = dates.date(o.transfer.sentAt ?? o.transfer.createdAt);
    const vars = { date: when, sender: o.transfer.sender.name };
    text =
      o.what === "record"
        ? t("verifyRecordOk", vars)
        : o.transfer.sentAt === null
          ? t("verifyFileOkUnsent", vars)
          : t("verifyFileOk", vars);
  } else if (o.kind === "not-found") {
    text = o.what === "file" ? t("verifyNotFound") : t("verifyRecordNotFound");
  } else {
    text = t("verifyBroken");
  }
  return (
    <div>
      <p class={ok ? "verdict verdict-ok" : "verdict verdict-fail"}>
        <span class="mark">{ok ? t("verified") : t("verifyFailed")}</span> {text}
      </p>
      {o.kind === "records" && o.check.kind === "checked" ? (
        <div class="table-wrap">
          <table class="records counts">
            <caption>{t("verifyRecordTableCaption")}</caption>
            <thead>
              <tr>
                <th scope="col" class="num">
                  {t("colLine")}
                </th>
                <th scope="col">{t("colResult")}</th>
              </tr>
            </thead>
            <tbody>
              {o.check.records.map((r) => (
                <tr key={r.line} class={r.proven ? "ok" : "error"}>
                  <td class="num">{r.line}</td>
                  <td>{r.proven ? t("recordProven") : t("recordNotProven")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <details>
        <summary>{t("verifyDetails")}</summary>
        <p>
          {t("verifyHashLabel")}: <code>{o.hash}</code>
        </p>
        {o.kind === "ok" && o.check.checkpoint ? (
          <p>{t("verifyCheckpoint", { origin: o.check.checkpoint.origin, size: o.check.checkpoint.size })}</p>
        ) : null}
      </details>
    </div>
  );
}
