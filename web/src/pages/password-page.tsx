/** パスワードの変更: forced after a temporary password; the policy is stated before typing. */
import { useState } from "preact/hooks";
import { apiErrorOf, type Api, type ApiError } from "../api.js";
import { ErrorAlert } from "../components/messages.js";
import { PageHeading } from "../components/page-heading.js";
import { useI18n } from "../i18n.js";

export function PasswordPage(props: { api: Api; forced: boolean; onChanged: () => void }) {
  const { t } = useI18n();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | string>();

  const submit = async (): Promise<void> => {
    if (next !== again) {
      setError(t("passwordMismatch"));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await props.api.send("POST", "/api/v1/account/password", { current, next });
      props.onChanged();
    } catch (e) {
      setError(apiErrorOf(e));
    } finally {
      setBusy(false);
    }
  };

  const field = (id: string, label: string, value: string, set: (v: string) => void, auto: string) => (
    <div class="field">
      <label for={id}>{label}</label>
      <input
        id={id}
        type="password"
        autoComplete={auto}
        required
        maxLength={128}
        aria-describedby={id === "password-new" ? "password-policy" : undefined}
        value={value}
        onInput={(e) => {
          set(e.currentTarget.value);
        }}
      />
    </div>
  );

  return (
    <main id="main" class="narrow">
      <PageHeading text={t("passwordTitle")} />
      {props.forced ? <p>{t("passwordForced")}</p> : null}
      <p id="password-policy" class="policy">
        {t("passwordPolicy")}
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        {field("password-current", t("passwordCurrent"), current, setCurrent, "current-password")}
        {field("password-new", t("passwordNew"), next, setNext, "new-password")}
        {field("password-confirm", t("passwordConfirm"), again, setAgain, "new-password")}
        <ErrorAlert error={error} id="password-error" />
        <button type="submit" class="primary" disabled={busy}>
          {t("passwordChange")}
        </button>
      </form>
    </main>
  );
}
