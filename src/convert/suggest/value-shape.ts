/**
 * What a column's sample values look like, for `map suggest`: numbers, dates (and which 和暦/西暦
 * style), a few distinct codes, finding text a thesaurus area knows, or free text. Only shapes and
 * counts leave this module — except the distinct values of code-like columns (short, few), which the
 * draft needs for its code table.
 */
import { parseClinicalNumber } from "../number.js";
import { lookupFindings, type Thesaurus } from "../thesaurus.js";
import { parseJapaneseDate } from "../wareki.js";
import { toHalfWidth } from "../width.js";

export type DateStyle = "和暦(漢字)" | "和暦(略号 R7.6.2)" | "和暦(元号数字 5070602)" | "西暦";

export interface ValueShape {
  readonly kind: "empty" | "number" | "date" | "code" | "findings" | "text";
  /** Non-empty sample values. */
  readonly filled: number;
  readonly distinct: number;
  /** Share (0–1) of non-empty values that fit `kind`. */
  readonly fit: number;
  readonly dateStyles: readonly DateStyle[];
  /** For `findings`: the thesaurus area that knows most of the values. */
  readonly domain: string | undefined;
  /** For code-like columns: the distinct values (at most MAX_CODES, each at most MAX_CODE_LENGTH). */
  readonly codes: readonly string[];
  /** Values were written with full-width digits (informational). */
  readonly fullWidth: boolean;
}

export const MAX_CODES = 30;
export const MAX_CODE_LENGTH = 12;

function dateStyle(text: string): DateStyle {
  if (/^(明治|大正|昭和|平成|令和|[明大昭平令㍾㍽㍼㍻㋿])/.test(text)) return "和暦(漢字)";
  if (/^[MTSHR]\d/i.test(text)) return "和暦(略号 R7.6.2)";
  if (/^[1-5]\d{6}$/.test(text)) return "和暦(元号数字 5070602)";
  return "西暦";
}

/** The shape of a column from its sample values (missing-value tokens already removed). */
export function valueShape(values: readonly string[], thesaurus: Thesaurus): ValueShape {
  const filled = values.map((v) => v.trim()).filter((v) => v !== "");
  const distinctValues = [...new Set(filled)];
  const base = { filled: filled.length, distinct: distinctValues.length, domain: undefined, codes: [] };
  const fullWidth = filled.some((v) => /[０-９]/.test(v));
  if (filled.length === 0) return { ...base, kind: "empty", fit: 0, dateStyles: [], fullWidth };

  let numbers = 0;
  let dates = 0;
  const styles = new Set<DateStyle>();
  for (const v of filled) {
    const h = toHalfWidth(v);
    const looksNumeric = /^[<>≦≧＜＞]?[+\-−]?[\d,]+(\.\d+)?(未満|以下|以上|超)?$/.test(h);
    if (looksNumeric && parseClinicalNumber(h).ok) numbers++;
    const d = parseJapaneseDate(h);
    // A plain small integer is a number, not a date (e.g. 170); dates need separators, an era or 7–8 digits.
    if (d.ok && !/^\d{1,6}$/.test(h)) {
      dates++;
      styles.add(dateStyle(h));
    }
  }
  const codeLike =
    distinctValues.length <= MAX_CODES &&
    distinctValues.every((v) => v.length <= MAX_CODE_LENGTH) &&
    (distinctValues.length < filled.length || filled.length <= 3);
  const codes = codeLike ? distinctValues.slice().sort() : [];

  // Thesaurus: the share of values whose every part an area knows (finding or normal phrase).
  let bestDomain: string | undefined;
  let bestKnown = 0;
  for (const name of thesaurus.domainNames()) {
    const domain = thesaurus.domain(name);
    if (!domain) continue;
    let known = 0;
    for (const v of distinctValues) {
      const found = lookupFindings(domain, v);
      if (found.unknown.length === 0 && (found.terms.length > 0 || found.normal)) known++;
    }
    if (known > bestKnown) {
      bestKnown = known;
      bestDomain = name;
    }
  }
  const findingsFit = distinctValues.length === 0 ? 0 : bestKnown / distinctValues.length;

  const shape = (kind: ValueShape["kind"], fit: number, extra: Partial<ValueShape> = {}): ValueShape => ({
    ...base,
    kind,
    fit,
    dateStyles: [...styles],
    fullWidth,
    codes,
    ...extra,
  });
  if (dates / filled.length >= 0.8) return shape("date", dates / filled.length);
  if (numbers / filled.length >= 0.8 && !(codeLike && distinctValues.every((v) => /^\d$/.test(v)))) {
    return shape("number", numbers / filled.length);
  }
  if (findingsFit >= 0.5 && bestKnown >= 1) {
    return shape("findings", findingsFit, { domain: bestDomain, codes: [] });
  }
  if (codeLike) return shape("code", 1);
  return shape("text", 1, { codes: [] });
}
