/** パスワードの変更 (forced): after a temporary password, before anything else. */
import type { Api } from "../api.js";
import { PageHeading } from "../components/page-heading.js";
import { PasswordForm } from "../components/password-form.js";
import { useI18n } from "../i18n.js";

export function PasswordPage(props: { api: Api; forced: boolean; onChanged: () => void }) {
  const { t } = useI18n();
  return (
    <main id="main" class="narrow">
      <PageHeading text={t("passwordTitle")} />
      {props.forced ? <p>{t("passwordForced")}</p> : null}
      <PasswordForm api={props.api} onChanged={props.onChanged} />
    </main>
  );
}
