/** A transfer's status in words (状態). */
import { useI18n, type MessageKey } from "../i18n.js";
import type { TransferStatus } from "../types.js";

const KEYS: Readonly<Record<TransferStatus, MessageKey>> = {
  converted: "statusConverted",
  sent: "statusSent",
  downloaded: "statusDownloaded",
  received: "statusReceived",
  discarded: "statusDiscarded",
  deleted: "statusDeleted",
};

export function StatusLabel(props: { status: TransferStatus }) {
  const { t } = useI18n();
  return <span class={`status status-${props.status}`}>{t(KEYS[props.status])}</span>;
}
