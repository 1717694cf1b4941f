/**
 * 事務局 — institutions and IDs: register an institution, issue its ID (temporary password shown once)
 * and client certificate (PKCS#12 file offered for saving, its password shown once), disable it; mapping
 * files with a test run, sender → receiver links, password reset, the inventory report. Metadata only:
 * the office never sees results.
 */
import { useCallback, useEffect, useState } from "preact/hooks";
import { fromBase64 } from "../../../src/ledger/verify/encoding.js";
import { apiErrorOf, type ApiError } from "../api.js";
import { useApp } from "../app-context.js";
import { LinkForm, MappingForm, ResetForm } from "../components/admin-forms.js";
import { ConfirmButtons } from "../components/confirm-buttons.js";
import { DataTable } from "../components/data-table.js";
import { ErrorAlert, StatusLine } from "../components/messages.js";
import { ModalDialog } from "../components/modal-dialog.js";
import { PageHeading } from "../components/page-heading.js";
import { SecretDialog, type Secret } from "../components/secret-dialog.js";
import { saveBytes } from "../format.js";
import { useI18n, type MessageKey } from "../i18n.js";
import type { Institution } from "../types.js";
import { useDates } from "../use-dates.js";

const KIND_KEYS: Readonly<Record<Institution["kind"], MessageKey>> = {
  sender: "kindSender",
  receiver: "kindReceiver",
  office: "kindOffice",
};

export function AdminInstitutionsPage() {
  const { api } = useApp();
  const { t } = useI18n();
  const dates = useDates();
  const [institutions, setInstitutions] = useState<readonly Institution[]>([]);
  const [error, setError] = useState<ApiError>();
  const [done, setDone] = useState<string>();
  const [secret, setSecret] = useState<Secret>();
  const [disabling, setDisabling] = useState<Institution>();
  const [busy, setBusy] = useState(false);
  const [kind, setKind] = useState<"sender" | "receiver">("sender");
  const [name, setName] = useState("");
  const [number, setNumber] = useState("");

  const load = useCallback(async (): Promise<void> => {
    try {
      setInstitutions(
        (await api.get<{ institutions: Institution[] }>("/api/v1/admin/institutions")).institutions,
      );
    } catch (e) {
      setError(apiErrorOf(e));
    }
  }, [api]);
  useEffect(() => {
    void load();
  }, [load]);

  const run = async (f: () => Promise<string | undefined>): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      setDone(await f());
      await load();
    } catch (e) {
      setError(apiErrorOf(e));
    } finally {
      setBusy(false);
    }
  };
  const path = (i: Institution, what: string) =>
    `/api/v1/admin/institutions/${encodeURIComponent(i.id)}/${what}`;

  const issueId = (i: Institution) =>
    run(async () => {
      const r = await api.send<{ loginId: string; temporaryPassword: string }>("POST", path(i, "account"));
      setSecret({
        rows: [
          [t("secretLoginId"), r.loginId],
          [t("secretTempPassword"), r.temporaryPassword],
        ],
      });
      return undefined;
    });

  const issueCertificate = (i: Institution) =>
    run(async () => {
      const r = await api.send<{
        serial: string;
        loginId: string;
        fingerprint: string;
        pkcs12: string;
        pkcs12Password: string;
      }>("POST", path(i, "certificates"));
      const p12 = fromBase64(r.pkcs12);
      setSecret({
        rows: [
          [t("secretLoginId"), r.loginId],
          [t("secretFingerprint"), r.fingerprint],
          [t("secretP12Password"), r.pkcs12Password],
        ],
        action: {
          label: t("secretDownloadP12"),
          run: () => {
            saveBytes(p12, `${r.loginId}-${r.serial}.p12`, "application/x-pkcs12");
          },
        },
      });
      return undefined;
    });

  const unlock = (i: Institution) =>
    run(async () => {
      const loginId = i.loginId ?? "";
      await api.send("POST", `/api/v1/admin/accounts/${encodeURIComponent(loginId)}/unlock`);
      return t("unlocked", { loginId });
    });

  const downloadInventory = () =>
    run(async () => {
      saveBytes(await api.getBytes("/api/v1/admin/inventory.csv"), "inventory.csv", "text/csv");
      return undefined;
    });

  return (
    <main id="main">
      <PageHeading text={t("adminTitle")} />
      <p class="hint">{t("adminNoResults")}</p>
      <ErrorAlert error={error} id="admin-error" />
      <StatusLine text={done} id="admin-done" />

      <section aria-labelledby="inst-heading">
        <h2 id="inst-heading">{t("instHeading")}</h2>
        <DataTable
          caption={t("instHeading")}
          columns={[
            t("colName"),
            t("colKind"),
            t("colNumber"),
            t("colLoginId"),
            { label: t("colLastLogin"), zone: true },
            t("colMapping"),
            t("colInstStatus"),
            t("colActions"),
          ]}
        >
          {institutions.map((i) => (
            <tr key={i.id}>
              <th scope="row">{i.name}</th>
              <td>{t(KIND_KEYS[i.kind])}</td>
              <td>{i.number ?? "—"}</td>
              <td>{i.loginId ?? t("noLogin")}</td>
              <td class="nowrap">
                {i.loginId === null
                  ? "—"
                  : i.lastLoginAt === null
                    ? t("neverLoggedIn")
                    : dates.dateTime(i.lastLoginAt)}
              </td>
              <td>
                {i.kind !== "sender"
                  ? "—"
                  : (i.mapping?.name ?? <strong class="soon">{t("mappingNone")}</strong>)}
              </td>
              <td>
                <span class="status">{i.status === "active" ? t("instActive") : t("instDisabled")}</span>
                {i.lockedUntil !== null ? (
                  <>
                    <br />
                    <strong class="soon">
                      {t("lockedUntilText", { time: `${dates.dateTime(i.lockedUntil)} ${t("jst")}` })}
                    </strong>
                  </>
                ) : null}
              </td>
              <td>
                {i.status === "active" && i.kind !== "office" ? (
                  <div class="buttons compact" role="group" aria-label={i.name}>
                    {i.lockedUntil !== null && i.loginId !== null ? (
                      <button type="button" class="primary" disabled={busy} onClick={() => void unlock(i)}>
                        {t("unlock")}
                      </button>
                    ) : null}
                    <button type="button" disabled={busy} onClick={() => void issueId(i)}>
                      {t("issueId")}
                    </button>
                    <button type="button" disabled={busy} onClick={() => void issueCertificate(i)}>
                      {t("issueCertificate")}
                    </button>
                    <button
                      type="button"
                      class="danger"
                      disabled={busy}
                      onClick={() => {
                        setDisabling(i);
                      }}
                    >
                      {t("disableInst")}
                    </button>
                  </div>
                ) : null}
              </td>
            </tr>
          ))}
        </DataTable>
      </section>

      <div class="forms">
        <section aria-labelledby="create-heading">
          <h2 id="create-heading">{t("instCreateHeading")}</h2>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void run(async () => {
                const created = await api.send<Institution>("POST", "/api/v1/admin/institutions", {
                  kind,
                  name: name.trim(),
                  ...(number.trim() === "" ? {} : { number: number.trim() }),
                });
                setName("");
                setNumber("");
                return t("instCreated", { name: created.name });
              });
            }}
          >
            <div class="field">
              <label for="inst-kind">{t("instKind")}</label>
              <select
                id="inst-kind"
                value={kind}
                onChange={(e) => {
                  setKind(e.currentTarget.value === "receiver" ? "receiver" : "sender");
                }}
              >
                <option value="sender">{t("kindSender")}</option>
                <option value="receiver">{t("kindReceiver")}</option>
              </select>
            </div>
            <div class="field">
              <label for="inst-name">{t("instName")}</label>
              <input
                id="inst-name"
                required
                maxLength={64}
                value={name}
                onInput={(e) => {
                  setName(e.currentTarget.value);
                }}
              />
            </div>
            <div class="field">
              <label for="inst-number">{t("instNumber")}</label>
              <input
                id="inst-number"
                maxLength={20}
                inputMode="numeric"
                aria-describedby="inst-number-hint"
                value={number}
                onInput={(e) => {
                  setNumber(e.currentTarget.value);
                }}
              />
              <p class="hint" id="inst-number-hint">
                {t("instNumberHint")}
              </p>
            </div>
            <button type="submit" class="primary" disabled={busy}>
              {t("instCreate")}
            </button>
          </form>
        </section>
        <MappingForm api={api} institutions={institutions} />
        <LinkForm api={api} institutions={institutions} />
        <ResetForm api={api} onSecret={setSecret} />
        <section aria-labelledby="inventory-heading">
          <h2 id="inventory-heading">{t("inventoryHeading")}</h2>
          <button type="button" disabled={busy} onClick={() => void downloadInventory()}>
            {t("inventoryDownload")}
          </button>
        </section>
      </div>

      <SecretDialog
        secret={secret}
        onClose={() => {
          setSecret(undefined);
        }}
      />
      <ModalDialog
        open={disabling !== undefined}
        title={t("disableTitle", { name: disabling?.name ?? "" })}
        onCancel={() => {
          setDisabling(undefined);
        }}
      >
        <p>{t("disableText")}</p>
        <ConfirmButtons
          yes={t("disableYes")}
          danger
          busy={busy}
          onYes={() => {
            const target = disabling;
            setDisabling(undefined);
            if (target)
              void run(async () => {
                await api.send("POST", path(target, "disable"));
                return t("disabledDone", { name: target.name });
              });
          }}
          onNo={() => {
            setDisabling(undefined);
          }}
        />
      </ModalDialog>
    </main>
  );
}
