/**
 * A transfer's audit trail as a timeline — who, what, when, from which device — each entry marked
 * 検証済み or 検証失敗 by the in-browser check (trail-check.ts), with the overall verdict first; and,
 * once timeline-check.ts has run, each entry's recorded time against the checkpoint's RFC 3161 token
 * and a seal's signer and time stamp against the pinned anchors, each 検証済み / 検証失敗.
 */
import type { OperationRecord } from "../../../src/ledger/entry/operation-record.js";
import { useI18n, type MessageKey } from "../i18n.js";
import { DeviceVerdict } from "./device-verdict.js";
import type { TimelineSigning } from "../timeline-check.js";
import type { TrailCheck } from "../trail-check.js";
import type { TransferView } from "../types.js";
import { useDates } from "../use-dates.js";

const OPERATIONS: Partial<Record<OperationRecord["type"], MessageKey>> = {
  upload: "opUpload",
  conversion: "opConversion",
  send: "opSend",
  download: "opDownload",
  receipt: "opReceipt",
  deletion: "opDeletion",
  seal: "opSeal",
};

/** The signing key named by a seal's JWS header (its certificate's SHA-256), shortened for display. */
function sealKid(jws: string): string {
  try {
    const header = JSON.parse(atob((jws.split(".")[0] ?? "").replace(/-/g, "+").replace(/_/g, "/"))) as {
      kid?: unknown;
    };
    return typeof header.kid === "string" ? `${header.kid.slice(0, 16)}…` : "?";
  } catch {
    return "?";
  }
}

function institutionName(record: OperationRecord, transfer: TransferView): string {
  if (record.institution === transfer.sender.id) return transfer.sender.name;
  if (record.institution === transfer.receiver.id) return transfer.receiver.name;
  return record.institution;
}

export function TrailTimeline(props: {
  check: TrailCheck;
  transfer: TransferView;
  /** The names people gave the signing devices (from the trail answer), by key ID. */
  deviceLabels: Readonly<Record<string, string>>;
  /** Signers and times verified in this browser (timeline-check.ts); undefined while checking. */
  signing?: TimelineSigning | undefined;
}) {
  const { t } = useI18n();
  const dates = useDates();
  const { check } = props;
  return (
    <div>
      <p
        id="trail-status"
        role="status"
        class={check.verified ? "verdict verdict-ok" : "verdict verdict-fail"}
      >
        <span class="mark">{check.verified ? t("verified") : t("verifyFailed")}</span>{" "}
        {check.verified ? t("trailAllVerified", { size: check.checkpoint?.size ?? 0 }) : t("trailFailed")}
      </p>
      {check.verified && props.signing === undefined ? (
        <p id="timeline-signing-status" role="status">
          {t("timelineChecking")}
        </p>
      ) : null}
      <ol class="timeline">
        {check.entries.map((e) => {
          const r = e.record;
          const s = props.signing?.entries.get(e.index);
          const key = r ? OPERATIONS[r.type] : undefined;
          return (
            <li key={e.index} class={e.verified ? "entry ok" : "entry fail"}>
              <p class="entry-head">
                <strong>{key ? t(key) : (r?.type ?? t("opOther"))}</strong>
                {r?.outcome === "success" || r === undefined ? "" : ` ${t("outcomeFailure")}`}{" "}
                <span class={e.verified ? "mark ok" : "mark fail"}>
                  {e.verified ? t("verified") : t("verifyFailed")}
                </span>
              </p>
              {r ? (
                <dl class="entry-facts">
                  <dt>{t("trailWhen")}</dt>
                  <dd>
                    <time dateTime={r.time}>
                      {dates.dateTime(r.time)} {t("jst")}
                    </time>
                  </dd>
                  <dt>{t("trailWho")}</dt>
                  <dd>
                    {institutionName(r, props.transfer)} ({r.actor.id})
                  </dd>
                  <dt>{t("trailDevice")}</dt>
                  <dd>
                    {r.actor.device ? (
                      <>
                        {props.deviceLabels[r.actor.device.keyId] ?? t("trailUnnamedDevice")}{" "}
                        <code class="device-id">{r.actor.device.keyId.slice(0, 8)}…</code>
                      </>
                    ) : (
                      t("trailNoDevice")
                    )}
                  </dd>
                  {s !== undefined ? (
                    <>
                      <dt>{t("timelineRecordedLabel")}</dt>
                      <dd class="entry-recorded" data-status={s.recorded}>
                        {s.recorded === "verified"
                          ? t("timelineRecordedOk", {
                              time: dates.dateTime(s.recordedBy ?? ""),
                              tsa: s.recordedTsa ?? "",
                            })
                          : s.recorded === "failed"
                            ? t("timelineRecordedFailed")
                            : t("timelineRecordedPending")}
                      </dd>
                      {s.device.status !== "none" ? (
                        <>
                          <dt>{t("timelineDeviceLabel")}</dt>
                          <DeviceVerdict check={s.device} class="entry-device" />
                        </>
                      ) : null}
                    </>
                  ) : null}
                  {r.type === "seal" && s?.seal !== undefined ? (
                    <>
                      <dt>{t("trailSigner")}</dt>
                      <dd class="seal-signer" data-status={s.seal.signerCertificate ?? "failed"}>
                        {s.seal.signerCertificate === "verified"
                          ? t("timelineSignerOk", { signer: s.seal.signer ?? "" })
                          : t("timelineSignerFailed")}{" "}
                        <code>{sealKid(r.jws)}</code>
                      </dd>
                      <dt>{t("trailStamp")}</dt>
                      <dd class="seal-time" data-status={s.seal.stamp}>
                        {s.seal.stamp === "verified"
                          ? t("sealStampOk", {
                              time: dates.dateTime(s.seal.stampTime ?? ""),
                              tsa: s.seal.tsa ?? "",
                            })
                          : t("sealStampFailed")}
                      </dd>
                    </>
                  ) : r.type === "seal" ? (
                    <>
                      <dt>{t("trailSigner")}</dt>
                      <dd class="seal-signer">
                        {r.source.observer} <code>{sealKid(r.jws)}</code>
                      </dd>
                      <dt>{t("trailStamp")}</dt>
                      <dd class="seal-time">
                        <time dateTime={r.timestamp.time}>{dates.dateTime(r.timestamp.time)}</time> (
                        {r.timestamp.tsa})
                      </dd>
                    </>
                  ) : null}
                </dl>
              ) : null}
            </li>
          );
        })}
      </ol>
    </div>
  );
}
