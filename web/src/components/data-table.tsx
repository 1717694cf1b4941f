/**
 * The one table markup every admin page uses: a caption that names it, a header row of column
 * headings (scope=col, with the 日本時間 note on columns of times) and the page's own rows; inside the
 * horizontally scrolling wrapper unless the table is a small count table.
 */
import type { ComponentChildren } from "preact";
import { useI18n } from "../i18n.js";

/** A column heading: its text, or its text with the time zone note and/or no wrapping. */
export type Column = string | { readonly label: string; readonly zone?: boolean; readonly nowrap?: boolean };

export function DataTable(props: {
  /** What the table holds, for screen readers (and on screen). */
  caption?: string;
  /** The header row; none for a table of row headings only. */
  columns?: readonly Column[];
  /** The <table>'s class ("counts", "audit"). */
  class?: string;
  /** false: the table stands alone, without the scrolling wrapper. */
  wrap?: boolean;
  testId?: string;
  /** The rows (<tr>…</tr>) of the body. */
  children: ComponentChildren;
}) {
  const { t } = useI18n();
  const table = (
    <table class={props.class} data-testid={props.testId}>
      {props.caption === undefined ? null : <caption>{props.caption}</caption>}
      {props.columns === undefined ? null : (
        <thead>
          <tr>
            {props.columns.map((c, i) => {
              const col = typeof c === "string" ? { label: c } : c;
              return (
                <th key={i} scope="col" class={col.nowrap === true ? "nowrap" : undefined}>
                  {col.label}
                  {col.zone === true ? (
                    <>
                      {" "}
                      <span class="zone">({t("jst")})</span>
                    </>
                  ) : null}
                </th>
              );
            })}
          </tr>
        </thead>
      )}
      <tbody>{props.children}</tbody>
    </table>
  );
  return props.wrap === false ? table : <div class="table-wrap">{table}</div>;
}
