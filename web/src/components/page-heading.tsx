/**
 * A page's h1. It takes the focus when the page opens, so keyboard and screen-reader users start at
 * the new page's title (a client-side navigation does not move focus by itself), and names the tab.
 */
import { useEffect, useRef } from "preact/hooks";
import { useI18n } from "../i18n.js";

export function PageHeading(props: { text: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  const { t } = useI18n();
  useEffect(() => {
    ref.current?.focus();
  }, [props.text]);
  useEffect(() => {
    document.title = `${props.text} — ${t("appTitle")}`;
  }, [props.text, t]);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {props.text}
    </h1>
  );
}
