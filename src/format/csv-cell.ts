/**
 * One cell of the standard CSV: RFC 4180 quoting, and neutralising text a spreadsheet would run as a
 * formula (CSV injection, OWASP): a text cell starting with = @ TAB or CR, or with + or - followed by
 * anything but signs, digits and a decimal point, gets a leading "'".
 *
 * Why + and - are narrower than OWASP's list: checkup exports are full of dipstick and sign values
 * (「-」「+」「++」「+-」「-1」) that no spreadsheet runs as anything (they hold no function name, cell
 * reference or DDE call), and the standard keeps the source wording as the original value, which must
 * stay what the clinic's file said.
 */

const FORMULA_START = /^[=+\-@\t\r]/;
const SIGNS_AND_DIGITS = /^[+\-±]+[0-9.,%]*$|^[+-]?[0-9][0-9.,%]*$/;
const NEEDS_QUOTES = /[",\r\n]/;

/** True when a spreadsheet could treat the text as a formula (see above for + and -). */
export function looksLikeFormula(text: string): boolean {
  if (!FORMULA_START.test(text)) return false;
  const c = text.charCodeAt(0);
  return !((c === 0x2b || c === 0x2d) && SIGNS_AND_DIGITS.test(text));
}

/** The text with a leading "'" when it looks like a formula; unchanged otherwise. */
export function neutraliseFormula(text: string): string {
  return looksLikeFormula(text) ? `'${text}` : text;
}

/** RFC 4180 §2: quote a field holding a comma, quote or line break; double inner quotes. */
export function quoteCell(text: string): string {
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
