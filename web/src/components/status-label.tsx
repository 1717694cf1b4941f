/**
 * A transfer's status in words (状態), in the viewer's own terms: what the sender calls 送信済み is, for
 * the receiver, a new arrival (新着) not yet downloaded; ダウンロード済み is still 未受領 until 受領確定.
 */
import { useI18n, type MessageKey } from "../i18n.js";
import type { Role, TransferStatus } from "../types.js";

const KEYS: Readonly<Record<TransferStatus, MessageKey>> = {
  converted: "statusConverted",
  sent: "statusSent",
  downloaded: "statusDownloaded",
  received: "statusReceived",
  discarded: "statusDiscarded",
  deleted: "statusDeleted",
};

const RECEIVER_KEYS: Partial<Record<TransferStatus, MessageKey>> = {
  sent: "statusNew",
  downloaded: "statusNotReceived",
};

/** The words for a status as `viewer` sees it. */
export function statusKey(status: TransferStatus, viewer: Role): MessageKey {
  return (viewer === "receiver" ? RECEIVER_KEYS[status] : undefined) ?? KEYS[status];
}

/**
 * Said beside the status (issue 11): `damaged`, its payload is bad on every copy; `repairing`, one of
 * its chunks is being repaired from a peer right now (downloads answer "try again" meanwhile).
 */
export function StatusLabel(props: {
  status: TransferStatus;
  viewer: Role;
  damaged?: boolean;
  repairing?: boolean;
}) {
  const { t } = useI18n();
  const fresh = props.viewer === "receiver" && props.status === "sent";
  return (
    <>
      <span class={`status status-${props.status}${fresh ? " status-new" : ""}`}>
        {t(statusKey(props.status, props.viewer))}
      </span>
      {props.damaged === true ? (
        <>
          {" "}
          <strong class="status damaged">{t("transferDamaged")}</strong>
        </>
      ) : null}
      {props.repairing === true && props.damaged !== true ? (
        <>
          {" "}
          <strong class="status repairing">{t("transferRepairing")}</strong>
        </>
      ) : null}
    </>
  );
}
