/** ログイン: user ID and password (the client certificate was already checked by the TLS handshake). */
import { useState } from "preact/hooks";
import { apiErrorOf, type Api, type ApiError } from "../api.js";
import { Link } from "../components/link.js";
import { ErrorAlert, StatusLine } from "../components/messages.js";
import { PageHeading } from "../components/page-heading.js";
import { useI18n, type MessageKey } from "../i18n.js";
import type { SessionView } from "../types.js";

export function LoginPage(props: {
  api: Api;
  notice: MessageKey | undefined;
  onLoggedIn: (session: SessionView) => void;
}) {
  const { t } = useI18n();
  const [loginId, setLoginId] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();

  const submit = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      const session = await props.api.send<SessionView>(
        "POST",
        "/api/v1/session",
        { loginId: loginId.trim(), password },
        { sign: false, reportAuth: false },
      );
      props.onLoggedIn(session);
    } catch (e) {
      setError(apiErrorOf(e));
      setPassword("");
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="narrow">
      <PageHeading text={t("loginTitle")} />
      {props.notice === "sessionExpired" ? (
        <ErrorAlert error={t("sessionExpired")} id="login-notice" />
      ) : (
        <StatusLine text={props.notice ? t(props.notice) : undefined} id="login-notice" />
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <div class="field">
          <label for="login-id">{t("loginId")}</label>
          <input
            id="login-id"
            name="username"
            autoComplete="username"
            autoCapitalize="off"
            spellcheck={false}
            required
            maxLength={64}
            value={loginId}
            onInput={(e) => {
              setLoginId(e.currentTarget.value);
            }}
          />
        </div>
        <div class="field">
          <label for="login-password">{t("password")}</label>
          <input
            id="login-password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            maxLength={256}
            value={password}
            onInput={(e) => {
              setPassword(e.currentTarget.value);
            }}
          />
        </div>
        <ErrorAlert error={error} id="login-error" />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? t("loginBusy") : t("loginButton")}
        </button>
      </form>
      <p class="hint">{t("loginCertificateNote")}</p>
      <p>
        <Link href="/help">{t("loginHelp")}</Link>
      </p>
    </main>
  );
}
