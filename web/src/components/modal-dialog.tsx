/**
 * A modal dialog on the native <dialog> element (showModal): the browser traps focus, Esc cancels,
 * and it is exposed as role=dialog with aria-modal. Named by its heading.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef } from "preact/hooks";

export function ModalDialog(props: {
  open: boolean;
  title: string;
  onCancel: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const headingId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog
      ref={ref}
      aria-labelledby={headingId}
      aria-modal="true"
      onCancel={(e) => {
        e.preventDefault();
        props.onCancel();
      }}
    >
      <h2 id={headingId}>{props.title}</h2>
      {props.open ? props.children : null}
    </dialog>
  );
}
