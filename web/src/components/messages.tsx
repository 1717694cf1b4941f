/** Error and success lines: errors interrupt (role=alert), confirmations are polite (role=status). */
import type { ApiError } from "../api.js";
import { errorText } from "../error-text.js";
import { useI18n } from "../i18n.js";

export function ErrorAlert(props: { error: ApiError | string | undefined; id?: string }) {
  const { lang } = useI18n();
  if (props.error === undefined) return null;
  const text = typeof props.error === "string" ? props.error : errorText(props.error, lang);
  return (
    <p class="message error" role="alert" id={props.id}>
      {text}
    </p>
  );
}

export function StatusLine(props: { text: string | undefined; id?: string }) {
  return (
    <p class="message ok" role="status" id={props.id}>
      {props.text ?? ""}
    </p>
  );
}
