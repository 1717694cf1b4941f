/**
 * Generated narrative (N1): XHTML made from data only, every value escaped, using only elements of the
 * FHIR XHTML whitelist (div, p, table, tr, th, td, b) and no attributes but the XHTML namespace.
 * http://hl7.org/fhir/R4/narrative.html#xhtml
 */
import type { Narrative } from "./resource-types.js";

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text as XHTML character data: markup characters escaped, control characters dropped. */
export function escapeXhtml(text: string): string {
  // XML 1.0 forbids C0 controls other than tab, CR, LF (and lone surrogates / U+FFFE / U+FFFF).
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udfff]/gu, "");
  return clean.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** A title and a two-column table of labelled values; empty values are left out. */
export function tableNarrative(
  title: string,
  rows: readonly (readonly [string, string | undefined])[],
): Narrative {
  const cells = rows
    .filter((r): r is readonly [string, string] => r[1] !== undefined && r[1] !== "")
    .map(([label, value]) => `<tr><th>${escapeXhtml(label)}</th><td>${escapeXhtml(value)}</td></tr>`)
    .join("");
  return {
    status: "generated",
    div: `<div xmlns="http://www.w3.org/1999/xhtml"><p><b>${escapeXhtml(title)}</b></p>${
      cells === "" ? "" : `<table>${cells}</table>`
    }</div>`,
  };
}
