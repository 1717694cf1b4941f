/** 証明書: every client certificate issued, and revocation with a reason (refused at once, no restart). */
import { useCallback, useEffect, useState } from "preact/hooks";
import { apiErrorOf, type ApiError } from "../api.js";
import { useApp } from "../app-context.js";
import { ConfirmButtons } from "../components/confirm-buttons.js";
import { DataTable } from "../components/data-table.js";
import { ErrorAlert, StatusLine } from "../components/messages.js";
import { ModalDialog } from "../components/modal-dialog.js";
import { PageHeading } from "../components/page-heading.js";
import { useI18n } from "../i18n.js";
import { useInstitutionNames } from "../institution-names.js";
import { useDates } from "../use-dates.js";
import type { Certificate } from "../types.js";

export function AdminCertificatesPage() {
  const { api } = useApp();
  const { t } = useI18n();
  const dates = useDates();
  const nameOf = useInstitutionNames(api);
  const [certificates, setCertificates] = useState<readonly Certificate[]>([]);
  const [error, setError] = useState<ApiError>();
  const [done, setDone] = useState<string>();
  const [revoking, setRevoking] = useState<Certificate>();
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);

  const load = useCallback(async (): Promise<void> => {
    try {
      setCertificates(
        (await api.get<{ certificates: Certificate[] }>("/api/v1/admin/certificates")).certificates,
      );
    } catch (e) {
      setError(apiErrorOf(e));
    }
  }, [api]);
  useEffect(() => {
    void load();
  }, [load]);

  const revoke = async (c: Certificate): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      await api.send("POST", `/api/v1/admin/certificates/${encodeURIComponent(c.serial)}/revoke`, {
        reason: reason.trim(),
      });
      setRevoking(undefined);
      setReason("");
      setDone(t("revokeDone"));
      await load();
    } catch (e) {
      setError(apiErrorOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main">
      <PageHeading text={t("certsTitle")} />
      <ErrorAlert error={error} />
      <StatusLine text={done} />
      <DataTable
        caption={t("certsTitle")}
        columns={[
          t("colSerial"),
          t("colLoginId"),
          t("colInstitution"),
          t("colFingerprint"),
          t("colNotAfter"),
          t("colRevoked"),
          t("colActions"),
        ]}
      >
        {certificates.map((c) => (
          <tr key={c.serial}>
            <th scope="row">
              <code>{c.serial}</code>
            </th>
            <td>{c.loginId}</td>
            <td>{nameOf(c.institutionId)}</td>
            <td>
              <code>{c.fingerprint.slice(0, 16)}…</code>
            </td>
            <td class="nowrap">{dates.date(c.notAfter)}</td>
            <td class="nowrap">{c.revokedAt === null ? t("notRevoked") : dates.dateTime(c.revokedAt)}</td>
            <td>
              {c.revokedAt === null ? (
                <button
                  type="button"
                  class="danger"
                  aria-label={`${t("revoke")} ${c.serial}`}
                  onClick={() => {
                    setRevoking(c);
                  }}
                >
                  {t("revoke")}
                </button>
              ) : null}
            </td>
          </tr>
        ))}
      </DataTable>
      <ModalDialog
        open={revoking !== undefined}
        title={t("revokeTitle", { serial: revoking?.serial ?? "" })}
        onCancel={() => {
          setRevoking(undefined);
        }}
      >
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (revoking) void revoke(revoking);
          }}
        >
          <div class="field">
            <label for="revoke-reason">{t("revokeReason")}</label>
            <input
              id="revoke-reason"
              required
              maxLength={200}
              value={reason}
              onInput={(e) => {
                setReason(e.currentTarget.value);
              }}
            />
          </div>
          <ConfirmButtons
            yes={t("revokeYes")}
            danger
            busy={busy}
            onYes="submit"
            onNo={() => {
              setRevoking(undefined);
            }}
          />
        </form>
      </ModalDialog>
    </main>
  );
}
