/**
 * 数値文字列の統一: clinical numbers as institutions' systems write them (「１，２３４」「－０．１５」
 * 「0.1未満」「＜0.1」) → one canonical decimal string plus an explicit qualifier.
 *
 * All arithmetic that decides a printed digit is exact decimal (strings, or BigInt scaled integers for
 * unit conversions): binary floating point turns 1.15 into 1.149999… and would round it the wrong way.
 * Rounding is 四捨五入 (round half up, away from zero for negatives), the everyday rule for reported
 * checkup values; the item dictionary's decimals (the `###.#` digit masks, standard-format-facts §3)
 * say how many fraction digits to keep.
 */

import type { TransformResult } from "./issues.js";
import { toHalfWidth } from "./width.js";

/** Comparison qualifier kept with the number: 「<0.1」「0.1未満」 mean "below the reportable limit". */
export type NumberQualifier = "" | "<" | "<=" | ">" | ">=";

/** A parsed clinical number. Build it with {@link parseClinicalNumber} or {@link scaleClinicalNumber}. */
export interface ClinicalNumber {
  readonly qualifier: NumberQualifier;
  /**
   * Canonical decimal: optional "-", integer part without leading zeros (at least "0"), and the source's
   * fraction digits as given ("1.50" keeps its trailing zero: it states the measured precision). Zero is
   * never negative.
   */
  readonly digits: string;
}

/** Longer cells are not numbers; the limit bounds the work spent on hostile input. */
const MAX_INPUT_LENGTH = 64;
/** Beyond 15 significant digits a value no longer survives the trip through an IEEE double (toNumber). */
const MAX_SIGNIFICANT_DIGITS = 15;
/** Largest `decimals` accepted by formatting and scaling (a mapping error beyond this). */
const MAX_DECIMALS = 15;

const FACTOR_PATTERN = /^\d+(?:\.\d+)?$/;

const MSG_EMPTY = "数値が空です";
const MSG_SHAPE = "数値として解釈できない文字が含まれています";
const MSG_GROUPING = "桁区切りのカンマの位置が不正です";
const MSG_TWO_QUALIFIERS = "不等号・未満等の限定が二重に指定されています";
const MSG_TOO_MANY_DIGITS = "有効数字が15桁を超えています";
const MSG_ROUNDED = "指定の小数桁数に四捨五入しました";

function invalid(message: string): TransformResult<ClinicalNumber> {
  return { ok: false, code: "VALUE_NUMBER_INVALID", message };
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Minus signs seen in exports: ASCII, hyphen/dashes U+2010–2015, U+2212, small/full-width hyphen-minus, ー. */
function isMinus(c: number): boolean {
  return (
    c === 0x2d || (c >= 0x2010 && c <= 0x2015) || c === 0x2212 || c === 0xfe63 || c === 0xff0d || c === 0x30fc
  );
}

/** Word-form qualifiers written after the number. */
const SUFFIX_QUALIFIERS: readonly (readonly [string, NumberQualifier])[] = [
  ["未満", "<"],
  ["以下", "<="],
  ["以上", ">="],
  ["超", ">"],
];

/**
 * Parses one clinical number.
 *
 * Accepts (after {@link toHalfWidth}): surrounding spaces; a leading qualifier `<` `<=` `>` `>=` `≦` `≤`
 * `≧` `≥` (full-width `＜＞` fold to ASCII) or a trailing 未満 / 以下 / 超 / 以上; a leading `+` or minus
 * (`-` `−` `－` `‐` `–` `—` `ー` …); digits with optional correct thousands grouping (`1,234,567`, never
 * `12,34`); a decimal point with optional fraction (`12.` and `.5` are accepted).
 *
 * Rejects with VALUE_NUMBER_INVALID: nothing left after clean-up, exponents, letters, units, two numbers,
 * both a leading and a trailing qualifier, more than 15 significant digits. Never throws; messages never
 * repeat the input.
 */
export function parseClinicalNumber(text: string): TransformResult<ClinicalNumber> {
  if (text.length > MAX_INPUT_LENGTH) return invalid(MSG_SHAPE);
  const s = toHalfWidth(text);
  let start = 0;
  let end = s.length;
  while (start < end && isSpace(s.charCodeAt(start))) start++;
  while (end > start && isSpace(s.charCodeAt(end - 1))) end--;
  if (start === end) return invalid(MSG_EMPTY);

  let qualifier: NumberQualifier = "";
  const c0 = s.charCodeAt(start);
  if (c0 === 0x3c || c0 === 0x3e) {
    const orEqual = s.charCodeAt(start + 1) === 0x3d;
    qualifier = c0 === 0x3c ? (orEqual ? "<=" : "<") : orEqual ? ">=" : ">";
    start += orEqual ? 2 : 1;
  } else if (c0 === 0x2266 || c0 === 0x2264) {
    qualifier = "<=";
    start++;
  } else if (c0 === 0x2267 || c0 === 0x2265) {
    qualifier = ">=";
    start++;
  }
  for (const [word, q] of SUFFIX_QUALIFIERS) {
    if (end - start >= word.length && s.endsWith(word, end)) {
      if (qualifier !== "") return invalid(MSG_TWO_QUALIFIERS);
      qualifier = q;
      end -= word.length;
      break;
    }
  }
  while (start < end && isSpace(s.charCodeAt(start))) start++;
  while (end > start && isSpace(s.charCodeAt(end - 1))) end--;

  let negative = false;
  const sign = s.charCodeAt(start);
  if (sign === 0x2b) {
    start++;
  } else if (isMinus(sign)) {
    negative = true;
    start++;
  }

  // Integer part with optional thousands grouping: first group 1–3 digits, later groups exactly 3.
  const intStart = start;
  let i = start;
  let group = 0;
  let commas = 0;
  for (; i < end; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c)) {
      group++;
    } else if (c === 0x2c) {
      if (commas === 0 ? group < 1 || group > 3 : group !== 3) return invalid(MSG_GROUPING);
      commas++;
      group = 0;
    } else {
      break;
    }
  }
  if (commas > 0 && group !== 3) return invalid(MSG_GROUPING);
  const intEnd = i;
  let fracStart = end;
  if (i < end && s.charCodeAt(i) === 0x2e) {
    fracStart = ++i;
    while (i < end && isDigit(s.charCodeAt(i))) i++;
  }
  if (i !== end) return invalid(MSG_SHAPE);
  if (intEnd === intStart && fracStart >= end) return invalid(MSG_EMPTY);

  let intDigits = s.slice(intStart, intEnd);
  if (commas > 0) intDigits = intDigits.replaceAll(",", "");
  let lead = 0;
  while (lead < intDigits.length - 1 && intDigits.charCodeAt(lead) === 0x30) lead++;
  if (lead > 0) intDigits = intDigits.slice(lead);
  if (intDigits.length === 0) intDigits = "0";
  const frac = s.slice(fracStart, end);

  let significant: number;
  if (intDigits !== "0") {
    significant = intDigits.length + frac.length;
  } else {
    let z = 0;
    while (z < frac.length && frac.charCodeAt(z) === 0x30) z++;
    significant = frac.length - z;
    if (significant === 0) negative = false; // -0, -0.00 → 0, 0.00
  }
  if (significant > MAX_SIGNIFICANT_DIGITS) return invalid(MSG_TOO_MANY_DIGITS);

  const magnitude = frac.length > 0 ? `${intDigits}.${frac}` : intDigits;
  return { ok: true, value: { qualifier, digits: negative ? `-${magnitude}` : magnitude } };
}

function checkDecimals(decimals: number): void {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > MAX_DECIMALS) {
    throw new RangeError(`decimals must be an integer 0–${MAX_DECIMALS}`);
  }
}

/** Adds one unit in the last place to an unsigned decimal string, carrying across the point. */
function incrementMagnitude(s: string): string {
  let i = s.length - 1;
  while (i >= 0) {
    const c = s.charCodeAt(i);
    if (c !== 0x2e && c !== 0x39) break;
    i--;
  }
  const carried = s.slice(i + 1).replaceAll("9", "0");
  return i < 0 ? `1${carried}` : s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) + 1) + carried;
}

function isZeroMagnitude(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x30 && c !== 0x2e) return false;
  }
  return true;
}

/**
 * Renders `n` for the standard record: qualifier, then the number with exactly `decimals` fraction digits.
 *
 * - fewer source digits → padded with zeros ("5" with 1 → "5.0");
 * - more source digits → 四捨五入 (half up, away from zero: "-0.25" with 1 → "-0.3"), with a
 *   VALUE_ROUNDED warning when a non-zero digit was dropped ("1.50" with 1 → "1.5" loses nothing and
 *   carries no warning);
 * - `decimals` undefined → the canonical digits as given.
 *
 * @throws RangeError when `decimals` is not an integer 0–15: that is a dictionary/mapping error, found
 *   when the mapping is loaded, never a row issue.
 */
export function formatClinicalNumber(
  n: ClinicalNumber,
  decimals: number | undefined,
): TransformResult<string> {
  const digits = n.digits;
  if (decimals === undefined) return { ok: true, value: n.qualifier + digits };
  checkDecimals(decimals);
  const dot = digits.indexOf(".");
  const fracLen = dot < 0 ? 0 : digits.length - dot - 1;
  if (fracLen === decimals) return { ok: true, value: n.qualifier + digits };
  if (fracLen < decimals) {
    const pad = "0".repeat(decimals - fracLen);
    return { ok: true, value: n.qualifier + digits + (dot < 0 ? `.${pad}` : pad) };
  }

  const negative = digits.charCodeAt(0) === 0x2d;
  const body = negative ? digits.slice(1) : digits;
  const bodyDot = negative ? dot - 1 : dot;
  const firstDropped = bodyDot + 1 + decimals;
  let kept = body.slice(0, decimals === 0 ? bodyDot : firstDropped);
  if (body.charCodeAt(firstDropped) >= 0x35) kept = incrementMagnitude(kept);
  let lost = false;
  for (let i = firstDropped; i < body.length; i++) {
    if (body.charCodeAt(i) !== 0x30) {
      lost = true;
      break;
    }
  }
  const value = n.qualifier + (negative && !isZeroMagnitude(kept) ? `-${kept}` : kept);
  return lost
    ? { ok: true, value, warning: { code: "VALUE_ROUNDED", message: MSG_ROUNDED } }
    : { ok: true, value };
}

/** `digits` as a BigInt mantissa and its number of fraction digits. */
function toScaled(digits: string): { mantissa: bigint; scale: number } {
  const dot = digits.indexOf(".");
  if (dot < 0) return { mantissa: BigInt(digits), scale: 0 };
  return { mantissa: BigInt(digits.slice(0, dot) + digits.slice(dot + 1)), scale: digits.length - dot - 1 };
}

/**
 * Declared unit conversion: `n × factor`, computed exactly, then rounded 四捨五入 to `resultDecimals`.
 * The qualifier is kept (a positive factor preserves order: <0.1 mg/dL × 10 is <1 mg/L).
 *
 * @param factor positive decimal string from the mapping ("0.1", "18.016", "88.4").
 * @throws RangeError when `factor` is not a positive plain decimal or `resultDecimals` is not 0–15 (mapping
 *   errors, validated when the mapping is loaded).
 */
export function scaleClinicalNumber(
  n: ClinicalNumber,
  factor: string,
  resultDecimals: number,
): ClinicalNumber {
  checkDecimals(resultDecimals);
  if (!FACTOR_PATTERN.test(factor)) throw new RangeError("factor must be a plain positive decimal string");
  const f = toScaled(factor);
  if (f.mantissa === 0n) throw new RangeError("factor must be greater than zero");
  const v = toScaled(n.digits);
  const product = v.mantissa * f.mantissa;
  const scale = v.scale + f.scale;
  const negative = product < 0n;
  let magnitude = negative ? -product : product;
  if (scale <= resultDecimals) {
    magnitude *= 10n ** BigInt(resultDecimals - scale);
  } else {
    const divisor = 10n ** BigInt(scale - resultDecimals);
    const remainder = magnitude % divisor;
    magnitude /= divisor;
    if (remainder * 2n >= divisor) magnitude += 1n; // half up, away from zero (magnitude is unsigned)
  }
  let text = magnitude.toString();
  if (resultDecimals > 0) {
    text = text.padStart(resultDecimals + 1, "0");
    text = `${text.slice(0, -resultDecimals)}.${text.slice(-resultDecimals)}`;
  }
  return { qualifier: n.qualifier, digits: negative && magnitude !== 0n ? `-${text}` : text };
}

/**
 * The hot path's shortcut for what most cells hold: a plain decimal already in canonical form (ASCII
 * digits, no sign, no leading zero, an optional fraction, at most 15 characters) that needs no rounding
 * for `decimals`. Returns exactly `formatClinicalNumber(parseClinicalNumber(text).value, decimals).value`
 * for such text (no qualifier, no warning), or undefined for anything else (take the full path).
 */
export function formatPlainNumber(text: string, decimals: number | undefined): string | undefined {
  const n = text.length;
  if (n === 0 || n > 15) return undefined;
  let dot = -1;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) continue;
    if (c !== 0x2e || dot >= 0) return undefined;
    dot = i;
  }
  // "0", "0.5", "12.50": canonical; "01", ".5", "12." are not.
  if (dot === 0 || dot === n - 1) return undefined;
  if (text.charCodeAt(0) === 0x30 && n > 1 && dot !== 1) return undefined;
  if (decimals === undefined) return text;
  const fracLen = dot < 0 ? 0 : n - dot - 1;
  if (fracLen === decimals) return text;
  if (fracLen > decimals || decimals > MAX_DECIMALS || !Number.isInteger(decimals)) return undefined;
  const pad = "0".repeat(decimals - fracLen);
  return dot < 0 ? `${text}.${pad}` : text + pad;
}

/**
 * The value as a JavaScript number, for range checks only (never for rounding): the nearest double, and
 * since parsing caps values at 15 significant digits, printing it back to that precision gives the same
 * decimal. The qualifier is not applied: callers decide what "<0.1" means for their check.
 */
export function toNumber(n: ClinicalNumber): number {
  return Number(n.digits);
}
