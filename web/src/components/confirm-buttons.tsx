/**
 * The two buttons of a confirmation dialog: the action (primary, or danger for what cannot be
 * undone, such as a revocation) and cancel. In a dialog with a form, the action is the form's submit
 * button, so Enter in its field confirms.
 */
import { useI18n } from "../i18n.js";

export function ConfirmButtons(props: {
  yes: string;
  /** The cancel button's text; やめる (cancel) unless given. */
  no?: string;
  danger?: boolean;
  busy: boolean;
  /** What the action does, or "submit": it submits the dialog's form. */
  onYes: (() => void) | "submit";
  onNo: () => void;
}) {
  const { t } = useI18n();
  const onYes = props.onYes;
  return (
    <div class="buttons">
      <button
        type={onYes === "submit" ? "submit" : "button"}
        class={props.danger === true ? "danger" : "primary"}
        disabled={props.busy}
        onClick={onYes === "submit" ? undefined : onYes}
      >
        {props.yes}
      </button>
      <button type="button" onClick={props.onNo}>
        {props.no ?? t("cancel")}
      </button>
    </div>
  );
}
