/**
 * One-time secrets for the office (a temporary password, a PKCS#12 password): shown once in a modal
 * dialog, never stored by the UI, gone when the dialog closes.
 */
import { Fragment } from "preact";
import { useI18n } from "../i18n.js";
import { ModalDialog } from "./modal-dialog.js";

export interface Secret {
  readonly rows: readonly (readonly [label: string, value: string])[];
  /** An extra action (e.g. saving the .p12 file). */
  readonly action?: { readonly label: string; readonly run: () => void };
}

export function SecretDialog(props: { secret: Secret | undefined; onClose: () => void }) {
  const { t } = useI18n();
  const s = props.secret;
  return (
    <ModalDialog open={s !== undefined} title={t("secretTitle")} onCancel={props.onClose}>
      {s ? (
        <>
          <p>{t("secretNote")}</p>
          <dl class="facts">
            {s.rows.map(([label, value]) => (
              <Fragment key={label}>
                <dt>{label}</dt>
                <dd>
                  <code class="secret">{value}</code>
                </dd>
              </Fragment>
            ))}
          </dl>
          <div class="buttons">
            {s.action ? (
              <button type="button" class="primary" onClick={s.action.run}>
                {s.action.label}
              </button>
            ) : null}
            <button type="button" onClick={props.onClose}>
              {t("close")}
            </button>
          </div>
        </>
      ) : null}
    </ModalDialog>
  );
}
