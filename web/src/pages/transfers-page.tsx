/**
 * 一覧: the sender's sent transfers, or the receiver's incoming ones, with their status (in the viewer's
 * own words: 新着 for a receiver), the deletion date (warned when near), search by institution or
 * transfer ID, a status filter and pages of 50 — so a list of a thousand transfers stays quick to read
 * and to render. Dates are Japan time, labelled once in the column heading.
 */
import { useEffect, useId, useMemo, useState } from "preact/hooks";
import { apiErrorOf, type ApiError } from "../api.js";
import { useApp } from "../app-context.js";
import { Link } from "../components/link.js";
import { ErrorAlert } from "../components/messages.js";
import { PageHeading } from "../components/page-heading.js";
import { StatusLabel, statusKey } from "../components/status-label.js";
import { useI18n } from "../i18n.js";
import type { TransferStatus, TransferView } from "../types.js";
import { useDates } from "../use-dates.js";

export const PAGE_SIZE = 50;
const STATUSES: readonly TransferStatus[] = [
  "converted",
  "sent",
  "downloaded",
  "received",
  "discarded",
  "deleted",
];

export function TransfersPage() {
  const { api, session } = useApp();
  const { t } = useI18n();
  const dates = useDates();
  const [transfers, setTransfers] = useState<readonly TransferView[]>();
  const [error, setError] = useState<ApiError>();
  const [query, setQuery] = useState("");
  const [status, setStatus] = useState<TransferStatus | "all">("all");
  const [page, setPage] = useState(0);
  const searchId = useId();
  const statusId = useId();
  const sender = session.role === "sender";
  const title = sender ? t("transfersSenderTitle") : t("transfersReceiverTitle");

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

  const matched = useMemo(() => {
    const q = query.trim().toLowerCase();
    return (transfers ?? []).filter((tr) => {
      if (status !== "all" && tr.status !== status) return false;
      if (q === "") return true;
      const other = sender ? tr.receiver.name : tr.sender.name;
      return other.toLowerCase().includes(q) || tr.id.includes(q);
    });
  }, [transfers, query, status, sender]);
  const pages = Math.max(1, Math.ceil(matched.length / PAGE_SIZE));
  const current = Math.min(page, pages - 1);
  const shown = matched.slice(current * PAGE_SIZE, (current + 1) * PAGE_SIZE);
  const fresh = sender ? 0 : (transfers ?? []).filter((tr) => tr.status === "sent").length;
  const statuses = STATUSES.filter((s) => !(s === "converted" && !sender));

  return (
    <main id="main">
      <PageHeading text={title} />
      <ErrorAlert error={error} />
      {fresh > 0 ? (
        <p class="message notice" id="arrivals-notice">
          <strong>{t("newArrivalsNotice", { n: fresh })}</strong>
        </p>
      ) : null}
      <p class="hint">{t("deletionWarning")}</p>
      {transfers === undefined ? (
        <p role="status">{t("loading")}</p>
      ) : transfers.length === 0 ? (
        <p>{t("transfersEmpty")}</p>
      ) : (
        <>
          <div class="filters" role="search">
            <label for={searchId}>{t("searchLabel")}</label>
            <input
              id={searchId}
              type="search"
              maxLength={100}
              value={query}
              onInput={(e) => {
                setQuery(e.currentTarget.value);
                setPage(0);
              }}
            />
            <label for={statusId}>{t("statusFilter")}</label>
            <select
              id={statusId}
              value={status}
              onChange={(e) => {
                const v = e.currentTarget.value;
                setStatus(STATUSES.find((s) => s === v) ?? "all");
                setPage(0);
              }}
            >
              <option value="all">{t("filterAll")}</option>
              {statuses.map((s) => (
                <option key={s} value={s}>
                  {t(statusKey(s, session.role))}
                </option>
              ))}
            </select>
          </div>
          <p role="status" id="list-count">
            {matched.length === 0
              ? t("listNone")
              : t("listShown", {
                  total: transfers.length,
                  matched: matched.length,
                  from: current * PAGE_SIZE + 1,
                  to: current * PAGE_SIZE + shown.length,
                })}
          </p>
          {shown.length > 0 ? (
            <div class="table-wrap">
              <table class="list">
                <caption>{title}</caption>
                <thead>
                  <tr>
                    <th scope="col">
                      {sender ? t("colCreated") : t("fieldSent")} <span class="zone">({t("jst")})</span>
                    </th>
                    <th scope="col">{sender ? t("colReceiver") : t("colSender")}</th>
                    <th scope="col" class="num">
                      {t("colRecords")}
                    </th>
                    <th scope="col">{t("colStatus")}</th>
                    <th scope="col">{t("colDeleteAfter")}</th>
                    <th scope="col">{t("colDetail")}</th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((tr) => (
                    <tr key={tr.id} class={!sender && tr.status === "sent" ? "fresh" : undefined}>
                      <td
                        data-label={`${sender ? t("colCreated") : t("fieldSent")} (${t("jst")})`}
                        class="nowrap"
                      >
                        {dates.dateTime(sender ? tr.createdAt : (tr.sentAt ?? tr.createdAt))}
                      </td>
                      <td data-label={sender ? t("colReceiver") : t("colSender")}>
                        {sender ? tr.receiver.name : tr.sender.name}
                      </td>
                      <td data-label={t("colRecords")} class="num">
                        {tr.records ?? "—"}
                      </td>
                      <td data-label={t("colStatus")} class="nowrap">
                        <StatusLabel
                          status={tr.status}
                          viewer={session.role}
                          damaged={tr.damaged}
                          repairing={tr.repairing}
                        />
                      </td>
                      <td data-label={t("colDeleteAfter")} class="nowrap">
                        {dates.date(tr.deleteAfter)}
                        {tr.deletionSoon ? (
                          <>
                            {" "}
                            <strong class="soon">{t("deletionSoon")}</strong>
                          </>
                        ) : null}
                      </td>
                      <td data-label={t("colDetail")} class="nowrap">
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
          ) : null}
          {pages > 1 ? (
            <nav class="pager" aria-label={t("pageNav")}>
              <button
                type="button"
                disabled={current === 0}
                onClick={() => {
                  setPage(current - 1);
                }}
              >
                {t("pagePrev")}
              </button>
              <span>{t("pageOf", { page: current + 1, pages })}</span>
              <button
                type="button"
                disabled={current >= pages - 1}
                onClick={() => {
                  setPage(current + 1);
                }}
              >
                {t("pageNext")}
              </button>
            </nav>
          ) : null}
        </>
      )}
    </main>
  );
}
