/**
 * One cell of the standard CSV: RFC 4180 quoting, and neutralising text a spreadsheet would run as a
 * formula (CSV injection, OWASP): a text cell starting with = + - @ TAB or CR gets a leading "'".
 */

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** True when a spreadsheet would treat the text as a formula. */
export function looksLikeFormula(text: string): boolean {
  return FORMULA_START.test(text);
}

/** The text with a leading "'" when it looks like a formula; unchanged otherwise. */
export function neutraliseFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

/** RFC 4180 §2: quote a field holding a comma, quote or line break; double inner quotes. */
export function quoteCell(text: string): string {
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
