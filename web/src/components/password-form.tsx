/**
 * The password change form, shared by the forced change after a temporary password and the voluntary
 * change on the account page (which first asks to confirm: the ID is shared, so the change affects
 * colleagues). The policy is stated before typing; the answer's time is handed to the caller.
 */
import { useState } from "preact/hooks";
import { apiErrorOf, type Api, type ApiError } from "../api.js";
import { useI18n } from "../i18n.js";
import { ErrorAlert } from "./messages.js";
import { ModalDialog } from "./modal-dialog.js";

export function PasswordForm(props: { api: Api; confirmFirst?: boolean; onChanged: (at: string) => void }) {
  const { t } = useI18n();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<ApiError | string>();

  const change = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      await props.api.send("POST", "/api/v1/account/password", { current, next });
      setCurrent("");
      setNext("");
      setAgain("");
      props.onChanged(new Date().toISOString());
    } catch (e) {
      setError(apiErrorOf(e));
    } finally {
      setBusy(false);
      setAsking(false);
    }
  };

  const submit = (): void => {
    if (next !== again) {
      setError(t("passwordMismatch"));
      return;
    }
    setError(undefined);
    if (props.confirmFirst === true) setAsking(true);
    else void change();
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
    <>
      <p id="password-policy" class="policy">
        {t("passwordPolicy")}
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          submit();
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
      <ModalDialog
        open={asking}
        title={t("passwordChangeConfirmTitle")}
        onCancel={() => {
          setAsking(false);
        }}
      >
        <p>{t("passwordChangeConfirmText")}</p>
        <div class="buttons">
          <button type="button" class="primary" disabled={busy} onClick={() => void change()}>
            {t("passwordChangeYes")}
          </button>
          <button
            type="button"
            onClick={() => {
              setAsking(false);
            }}
          >
            {t("cancel")}
          </button>
        </div>
      </ModalDialog>
    </>
  );
}
