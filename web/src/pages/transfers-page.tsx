/**
 * 一覧: the sender's sent transfers, or the receiver's incoming ones, with their status and the
 * deletion date (warned when near).
 */
import { useEffect, useState } from "preact/hooks";
import { apiErrorOf, type ApiError } from "../api.js";
import { useApp } from "../app-context.js";
import { Link } from "../components/link.js";
import { ErrorAlert } from "../components/messages.js";
import { PageHeading } from "../components/page-heading.js";
import { StatusLabel } from "../components/status-label.js";
import { formatDate, formatDateTime } from "../format.js";
import { useI18n } from "../i18n.js";
import type { TransferView } from "../types.js";

export function TransfersPage() {
  const { api, session } = useApp();
  const { t, lang } = useI18n();
  const [transfers, setTransfers] = useState<readonly TransferView[]>();
  const [error, setError] = useState<ApiError>();
  const sender = session.role === "sender";

  useEffect(() => {
    api
      .get<{ transfers: TransferView[] }>("/api/v1/transfers")
      .then((r) => {
        setTransfers(r.transfers);
      })
      .catch((e: unknown) => {
        setError(apiErrorOf(e));
      });
  }, [api]);

  return (
    <main id="main">
      <PageHeading text={sender ? t("transfersSenderTitle") : t("transfersReceiverTitle")} />
      <ErrorAlert error={error} />
      <p class="hint">{t("deletionWarning")}</p>
      {transfers === undefined ? (
        <p role="status">{t("loading")}</p>
      ) : transfers.length === 0 ? (
        <p>{t("transfersEmpty")}</p>
      ) : (
        <div class="table-wrap">
          <table>
            <caption>{sender ? t("transfersSenderTitle") : t("transfersReceiverTitle")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("colCreated")}</th>
                <th scope="col">{sender ? t("colReceiver") : t("colSender")}</th>
                <th scope="col">{t("colRecords")}</th>
                <th scope="col">{t("colStatus")}</th>
                <th scope="col">{t("colDeleteAfter")}</th>
                <th scope="col">{t("colDetail")}</th>
              </tr>
            </thead>
            <tbody>
              {transfers.map((tr) => (
                <tr key={tr.id}>
                  <td>{formatDateTime(sender ? tr.createdAt : (tr.sentAt ?? tr.createdAt), lang)}</td>
                  <td>{sender ? tr.receiver.name : tr.sender.name}</td>
                  <td class="num">{tr.records ?? "—"}</td>
                  <td>
                    <StatusLabel status={tr.status} />
                  </td>
                  <td>
                    {formatDate(tr.deleteAfter, lang)}
                    {tr.deletionSoon ? (
                      <>
                        {" "}
                        <strong class="soon">{t("deletionSoon")}</strong>
                      </>
                    ) : null}
                  </td>
                  <td>
                    <Link href={`/transfers/${tr.id}`}>
                      {t("detailLink")}
                      <span class="visually-hidden"> {tr.id}</span>
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
