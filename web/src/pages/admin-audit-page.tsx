/**
 * 操作の記録 (office): the newest ledger entries from GET /api/v1/audit — when, which institution (by
 * name), which ID, what, on what, with which outcome. Entries hold identifiers and hashes only, so the
 * office sees no result; reading is itself recorded by the service.
 */
import { useCallback, useEffect, useId, useMemo, useState } from "preact/hooks";
import type { OperationRecord } from "../../../src/ledger/entry/operation-record.js";
import { apiErrorOf, type ApiError } from "../api.js";
import { useApp } from "../app-context.js";
import { ErrorAlert } from "../components/messages.js";
import { PageHeading } from "../components/page-heading.js";
import { useI18n, type MessageKey } from "../i18n.js";
import { useInstitutionNames } from "../institution-names.js";
import { useDates } from "../use-dates.js";
import { DataTable } from "../components/data-table.js";

interface AuditAnswer {
  readonly treeSize: number;
  readonly entries: readonly { readonly index: number; readonly entry: OperationRecord }[];
}

const TYPE_KEYS: Partial<Record<OperationRecord["type"], MessageKey>> = {
  login: "opLogin",
  logout: "opLogout",
  admin: "opAdmin",
  "audit-query": "opAuditQuery",
  denial: "opDenial",
  upload: "opUpload",
  conversion: "opConversion",
  send: "opSend",
  download: "opDownload",
  receipt: "opReceipt",
  deletion: "opDeletion",
};

const LIMITS = [100, 200, 500] as const;

/** Office and account actions in words (the code stays beside them). */
const ACTIONS: Readonly<Record<string, readonly [string, string]>> = {
  "institution.create": ["機関の登録", "Institution registered"],
  "institution.update": ["機関の変更", "Institution changed"],
  "account.create": ["利用者IDの発行", "User ID issued"],
  "account.disable": ["利用不可にする", "Disabled"],
  "account.enable": ["利用可能にする", "Enabled"],
  "account.unlock": ["ロックの解除", "Unlocked"],
  "password.reset": ["パスワードの再設定", "Password reset"],
  "password.change": ["パスワードの変更", "Password changed"],
  "role.change": ["権限の変更", "Role changed"],
  "certificate.issue": ["証明書の発行", "Certificate issued"],
  "certificate.revoke": ["証明書の失効", "Certificate revoked"],
  "mapping.update": ["マッピングの登録", "Mapping registered"],
  "device.register": ["端末の登録", "Device registered"],
  "device.update": ["端末の名前の変更", "Device renamed"],
  "device.remove": ["端末の削除", "Device removed"],
  "key.rotate": ["鍵の更新", "Key rotated"],
  "backup.create": ["バックアップ", "Backup"],
  "backup.restore": ["復元", "Restore"],
};

/** What an entry acted on: a transfer, an office action's target (an institution by name), or nothing. */
function targetOf(e: OperationRecord, nameOf: (id: string) => string): string {
  const r = e as { transfer?: unknown; target?: { kind?: unknown; id?: unknown } };
  if (typeof r.transfer === "string") return r.transfer;
  const id = r.target?.id;
  if (typeof id !== "string" || id === "-") return "";
  return r.target?.kind === "institution" ? nameOf(id) : id;
}

export function AdminAuditPage() {
  const { api } = useApp();
  const { t, lang } = useI18n();
  const dates = useDates();
  const nameOf = useInstitutionNames(api);
  const [limit, setLimit] = useState<number>(100);
  const [answer, setAnswer] = useState<AuditAnswer>();
  const [error, setError] = useState<ApiError>();
  const [type, setType] = useState("all");
  const [institution, setInstitution] = useState("all");
  const limitId = useId();
  const typeId = useId();
  const instId = useId();

  const load = useCallback(async (): Promise<void> => {
    try {
      setAnswer(await api.get<AuditAnswer>(`/api/v1/audit?limit=${limit}`));
    } catch (e) {
      setError(apiErrorOf(e));
    }
  }, [api, limit]);
  useEffect(() => {
    void load();
  }, [load]);

  const entries = answer?.entries ?? [];
  const institutions = useMemo(() => [...new Set(entries.map((e) => e.entry.institution))], [entries]);
  const types = useMemo(() => [...new Set(entries.map((e) => e.entry.type))].sort(), [entries]);
  const shown = entries.filter(
    (e) =>
      (type === "all" || e.entry.type === type) &&
      (institution === "all" || e.entry.institution === institution),
  );

  return (
    <main id="main">
      <PageHeading text={t("auditTitle")} />
      <p class="hint">{t("auditIntro")}</p>
      <ErrorAlert error={error} />
      <div class="filters">
        <label for={limitId}>{t("auditCount")}</label>
        <select
          id={limitId}
          value={String(limit)}
          onChange={(e) => {
            setLimit(Number(e.currentTarget.value));
          }}
        >
          {LIMITS.map((n) => (
            <option key={n} value={String(n)}>
              {n}
            </option>
          ))}
        </select>
        <label for={typeId}>{t("auditFilterType")}</label>
        <select
          id={typeId}
          value={type}
          onChange={(e) => {
            setType(e.currentTarget.value);
          }}
        >
          <option value="all">{t("filterAll")}</option>
          {types.map((k) => (
            <option key={k} value={k}>
              {t(TYPE_KEYS[k] ?? "opOther")}
            </option>
          ))}
        </select>
        <label for={instId}>{t("auditFilterInst")}</label>
        <select
          id={instId}
          value={institution}
          onChange={(e) => {
            setInstitution(e.currentTarget.value);
          }}
        >
          <option value="all">{t("filterAll")}</option>
          {institutions.map((i) => (
            <option key={i} value={i}>
              {nameOf(i)}
            </option>
          ))}
        </select>
        <button type="button" onClick={() => void load()}>
          {t("refresh")}
        </button>
      </div>
      {answer === undefined ? (
        error ? null : (
          <p role="status">{t("loading")}</p>
        )
      ) : (
        <DataTable
          caption={t("auditCaption")}
          class="audit"
          columns={[
            { label: t("colNo"), nowrap: true },
            { label: t("colWhen"), zone: true },
            t("colInstitution"),
            t("colWho"),
            t("colOperation"),
            t("colTarget"),
            t("colOutcome"),
          ]}
        >
          {shown.map(({ index, entry: e }) => {
            const action = (e as { action?: unknown }).action;
            return (
              <tr key={index} class={e.outcome === "success" ? undefined : "error"}>
                <td class="num">{index}</td>
                <td class="nowrap">{dates.dateTime(e.time)}</td>
                <td>{e.institution === "-" ? "—" : nameOf(e.institution)}</td>
                <td>{e.actor.id}</td>
                <td>
                  {typeof action === "string" && ACTIONS[action] ? (
                    <>
                      {ACTIONS[action][lang === "ja" ? 0 : 1]} <code class="issue-code">{action}</code>
                    </>
                  ) : (
                    t(TYPE_KEYS[e.type] ?? "opOther")
                  )}
                </td>
                <td>{targetOf(e, nameOf)}</td>
                <td class="nowrap">{e.outcome === "success" ? t("outcomeSuccess") : t("outcomeFailed")}</td>
              </tr>
            );
          })}
        </DataTable>
      )}
    </main>
  );
}
