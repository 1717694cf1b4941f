/**
 * The office's smaller forms: mapping upload with a test run on a sample (counts and issue codes only,
 * never values), sender → receiver links, and password reset (who asked, how it was confirmed).
 */
import { useState } from "preact/hooks";
import { toBase64 } from "../../../src/ledger/verify/encoding.js";
import { apiErrorOf, type Api, type ApiError } from "../api.js";
import { issueName } from "../issue-codes.js";
import { useI18n } from "../i18n.js";
import type { ConvertReport, Institution } from "../types.js";
import { ErrorAlert, StatusLine } from "./messages.js";
import type { Secret } from "./secret-dialog.js";
import { DataTable } from "./data-table.js";

function useSubmit() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [done, setDone] = useState<string>();
  const run = async (f: () => Promise<string>): Promise<void> => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      setDone(await f());
    } catch (e) {
      setError(apiErrorOf(e));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, done, run };
}

function InstitutionSelect(props: {
  id: string;
  label: string;
  options: readonly Institution[];
  value: string;
  onChange: (v: string) => void;
}) {
  const { t } = useI18n();
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select
        id={props.id}
        required
        value={props.value}
        onChange={(e) => {
          props.onChange(e.currentTarget.value);
        }}
      >
        <option value="">{t("sendChooseReceiver")}</option>
        {props.options.map((i) => (
          <option key={i.id} value={i.id}>
            {i.name} ({i.number ?? i.id})
          </option>
        ))}
      </select>
    </div>
  );
}

export function MappingForm(props: { api: Api; institutions: readonly Institution[] }) {
  const { t } = useI18n();
  const [institutionId, setInstitutionId] = useState("");
  const [mapping, setMapping] = useState<File>();
  const [sample, setSample] = useState<File>();
  const [report, setReport] = useState<ConvertReport>();
  const s = useSubmit();
  const senders = props.institutions.filter((i) => i.kind === "sender" && i.status === "active");
  return (
    <section aria-labelledby="mapping-heading">
      <h2 id="mapping-heading">{t("mappingHeading")}</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setReport(undefined);
          void s.run(async () => {
            const body = {
              mapping: mapping ? await mapping.text() : "",
              ...(sample ? { sample: toBase64(new Uint8Array(await sample.arrayBuffer())) } : {}),
            };
            const r = await props.api.send<{ name: string; sampleReport?: ConvertReport }>(
              "POST",
              `/api/v1/admin/institutions/${encodeURIComponent(institutionId)}/mapping`,
              body,
            );
            setReport(r.sampleReport);
            return t("mappingDone", { name: r.name });
          });
        }}
      >
        <InstitutionSelect
          id="mapping-institution"
          label={t("mappingInst")}
          options={senders}
          value={institutionId}
          onChange={setInstitutionId}
        />
        <div class="field">
          <label for="mapping-file">{t("mappingFile")}</label>
          <input
            id="mapping-file"
            type="file"
            required
            accept=".yaml,.yml,.json"
            onChange={(e) => {
              setMapping(e.currentTarget.files?.[0]);
            }}
          />
        </div>
        <div class="field">
          <label for="mapping-sample">{t("mappingSample")}</label>
          <input
            id="mapping-sample"
            type="file"
            aria-describedby="mapping-sample-note"
            onChange={(e) => {
              setSample(e.currentTarget.files?.[0]);
            }}
          />
          <p class="hint" id="mapping-sample-note">
            {t("mappingSampleNote")}
          </p>
        </div>
        <ErrorAlert error={s.error} />
        <StatusLine text={s.done} />
        <button type="submit" class="primary" disabled={s.busy}>
          {t("mappingSubmit")}
        </button>
      </form>
      {report ? <SampleResult report={report} /> : null}
    </section>
  );
}

/** Counts and issue codes of the sample run: no row values, no messages tied to rows. */
function SampleResult(props: { report: ConvertReport }) {
  const { t, lang } = useI18n();
  const c = props.report.counts;
  return (
    <DataTable caption={t("mappingSampleResult")} class="counts" wrap={false}>
      <tr>
        <th scope="row">{t("countRowsIn")}</th>
        <td class="num">{c.rowsIn}</td>
      </tr>
      <tr>
        <th scope="row">{t("countRecordsOut")}</th>
        <td class="num">{c.recordsOut}</td>
      </tr>
      <tr>
        <th scope="row">{t("countRowsRejected")}</th>
        <td class="num">{c.rowsRejected}</td>
      </tr>
      {Object.entries(props.report.issueCounts).map(([code, n]) => (
        <tr key={code}>
          <th scope="row">
            {issueName(code, lang)} <code class="issue-code">{code}</code>
          </th>
          <td class="num">
            {t("severityError")} {n.error} / {t("severityWarning")} {n.warning}
          </td>
        </tr>
      ))}
    </DataTable>
  );
}

export function LinkForm(props: { api: Api; institutions: readonly Institution[] }) {
  const { t } = useI18n();
  const [senderId, setSenderId] = useState("");
  const [receiverId, setReceiverId] = useState("");
  const s = useSubmit();
  const active = props.institutions.filter((i) => i.status === "active");
  return (
    <section aria-labelledby="links-heading">
      <h2 id="links-heading">{t("linksHeading")}</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void s.run(async () => {
            await props.api.send("POST", "/api/v1/admin/links", { senderId, receiverId });
            return t("linkDone");
          });
        }}
      >
        <InstitutionSelect
          id="link-sender"
          label={t("linkSender")}
          options={active.filter((i) => i.kind === "sender")}
          value={senderId}
          onChange={setSenderId}
        />
        <InstitutionSelect
          id="link-receiver"
          label={t("linkReceiver")}
          options={active.filter((i) => i.kind === "receiver")}
          value={receiverId}
          onChange={setReceiverId}
        />
        <ErrorAlert error={s.error} />
        <StatusLine text={s.done} />
        <button type="submit" class="primary" disabled={s.busy}>
          {t("linkSubmit")}
        </button>
      </form>
    </section>
  );
}

export function ResetForm(props: { api: Api; onSecret: (s: Secret) => void }) {
  const { t } = useI18n();
  const [loginId, setLoginId] = useState("");
  const [requestedBy, setRequestedBy] = useState("");
  const [confirmedHow, setConfirmedHow] = useState("");
  const s = useSubmit();
  const text = (
    id: string,
    label: string,
    hint: string | undefined,
    value: string,
    set: (v: string) => void,
  ) => (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        required
        maxLength={200}
        aria-describedby={hint === undefined ? undefined : `${id}-hint`}
        value={value}
        onInput={(e) => {
          set(e.currentTarget.value);
        }}
      />
      {hint === undefined ? null : (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
    </div>
  );
  return (
    <section aria-labelledby="reset-heading">
      <h2 id="reset-heading">{t("resetHeading")}</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void s.run(async () => {
            const r = await props.api.send<{ loginId: string; temporaryPassword: string }>(
              "POST",
              `/api/v1/admin/accounts/${encodeURIComponent(loginId.trim())}/password-reset`,
              { requestedBy, confirmedHow },
            );
            props.onSecret({
              rows: [
                [t("secretLoginId"), r.loginId],
                [t("secretTempPassword"), r.temporaryPassword],
              ],
            });
            setRequestedBy("");
            setConfirmedHow("");
            return "";
          });
        }}
      >
        {text("reset-login-id", t("resetLoginId"), undefined, loginId, setLoginId)}
        {text(
          "reset-requested-by",
          t("resetRequestedBy"),
          t("resetRequestedByHint"),
          requestedBy,
          setRequestedBy,
        )}
        {text(
          "reset-confirmed-how",
          t("resetConfirmedHow"),
          t("resetConfirmedHowHint"),
          confirmedHow,
          setConfirmedHow,
        )}
        <ErrorAlert error={s.error} />
        <button type="submit" class="primary" disabled={s.busy}>
          {t("resetSubmit")}
        </button>
      </form>
    </section>
  );
}
