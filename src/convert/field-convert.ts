/**
 * One item's value from its raw source text(s): code tables, number clean-up and unit conversion,
 * 和暦 dates, standard terms, thesaurus look-up, joining several values with 「、」, and keeping the
 * source text as the original where conversion changed it.
 *
 * Hot path (items × rows): no allocation beyond the values themselves when nothing is wrong.
 */
import { VALUE_JOINER } from "../format/standard-csv.js";
import type { CompiledRule } from "./mapping-check.js";
import type { Issue, IssueCode, IssueSeverity } from "./issues.js";
import {
  formatClinicalNumber,
  formatPlainNumber,
  parseClinicalNumber,
  scaleClinicalNumber,
  toNumber,
} from "./number.js";
import { PureMemo } from "./pure-memo.js";
import { lookupFindings, type FindingLookup, type ThesaurusDomain } from "./thesaurus.js";
import { parseJapaneseDate } from "./wareki.js";
import { toHalfWidth } from "./width.js";

/** A source value with where it came from. */
export interface RawValue {
  readonly text: string;
  readonly row: number;
  readonly column: string;
}

/** What the finding text said, for deriving 所見の有無. */
export type FindingState = "abnormal" | "normal" | undefined;

export interface FieldOutcome {
  value: string;
  original: string;
  finding: FindingState;
  /**
   * For numbers: whether conversion changed the meaning (unit conversion, rounding, a qualifier such
   * as 未満 re-written). Pure re-formatting (full-width digits, "1,234", "160" → "160.0") does not
   * count, so the original column is not filled for it.
   */
  numberReinterpreted: boolean;
  /** True when an error issue was raised (the record will be rejected). */
  rejected: boolean;
}

/**
 * Converts the raw values of one item. Issues are appended to `issues`; missing-value tokens
 * (`missing`) are dropped first. Surrounding white space is not part of a value.
 */
export function convertField(
  rule: CompiledRule,
  raws: readonly RawValue[],
  missing: ReadonlySet<string>,
  issues: Issue[],
  /** An outcome to fill in place (the hot path reuses one); valid until the next call. */
  into?: FieldOutcome,
): FieldOutcome {
  let out: FieldOutcome;
  if (into === undefined) {
    out = { value: "", original: "", finding: undefined, numberReinterpreted: false, rejected: false };
  } else {
    out = into;
    out.value = "";
    out.original = "";
    out.finding = undefined;
    out.numberReinterpreted = false;
    out.rejected = false;
  }
  // Fast path: one source value with one result (almost every item of a wide export).
  const only = raws.length === 1 ? raws[0] : undefined;
  if (only !== undefined) {
    const trimmed = only.text.trim();
    if (missing.has(trimmed)) return out;
    const converted = convertOne(rule, trimmed, only, issues, out);
    if (typeof converted === "string") {
      out.value = converted;
      if (rule.item.type === "number" && !rule.coded ? out.numberReinterpreted : trimmed !== converted) {
        out.original = trimmed;
      }
      return out;
    }
    return finish(rule, out, converted === undefined ? [] : unique(converted), [trimmed], only, issues);
  }
  let values: string[] | undefined;
  let sources: string[] | undefined;
  for (const raw of raws) {
    const trimmed = raw.text.trim();
    if (missing.has(trimmed)) continue;
    (sources ??= []).push(trimmed);
    const converted = convertOne(rule, trimmed, raw, issues, out);
    if (converted === undefined) continue;
    values ??= [];
    if (typeof converted === "string") {
      if (converted !== "" && !values.includes(converted)) values.push(converted);
    } else {
      for (const v of converted) if (v !== "" && !values.includes(v)) values.push(v);
    }
  }
  if (sources === undefined) return out;
  return finish(rule, out, values ?? [], sources, raws[0], issues);
}

function unique(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) if (v !== "" && !out.includes(v)) out.push(v);
  return out;
}

/** Joins the converted values and decides whether the source wording is kept as the original. */
function finish(
  rule: CompiledRule,
  out: FieldOutcome,
  values: readonly string[],
  sources: readonly string[],
  first: RawValue | undefined,
  issues: Issue[],
): FieldOutcome {
  if (values.length > 1 && !rule.item.multiple) {
    addIssue(
      issues,
      out,
      "error",
      "RECORD_DUPLICATE_ITEM",
      first,
      rule,
      "複数行に異なる値があります (この項目は値を1つしか持てません)",
    );
    return out;
  }
  out.value = values.join(VALUE_JOINER);
  const source = sources.join(VALUE_JOINER);
  const changed =
    rule.item.type === "number" && !rule.coded
      ? out.numberReinterpreted || out.value === ""
      : source !== out.value;
  if (changed) out.original = source;
  return out;
}

function convertOne(
  rule: CompiledRule,
  trimmed: string,
  raw: RawValue,
  issues: Issue[],
  out: FieldOutcome,
): string | readonly string[] | undefined {
  let text = toHalfWidth(trimmed);
  if (rule.coded) {
    const term = lookupCode(rule, trimmed, text);
    if (term !== undefined) {
      // Codes first; with a thesaurus the term still goes through it (所見の有無 is derived).
      if (!rule.thesaurus) return term;
      text = term;
    } else if (!rule.thesaurus) {
      if (rule.item.type === "code" && rule.item.terms?.includes(text)) return text;
      if (rule.otherwise !== undefined) return rule.otherwise;
      addIssue(
        issues,
        out,
        "warning",
        "VALUE_CODE_UNKNOWN",
        raw,
        rule,
        `コード表にないコード${nameCode(trimmed)}です`,
      );
      return undefined;
    }
  }
  const item = rule.item;
  switch (item.type) {
    case "number": {
      if (rule.unitFactor === undefined) {
        // Most cells: a plain canonical decimal (see formatPlainNumber), same result without parsing.
        const plain = formatPlainNumber(text, item.decimals);
        if (plain !== undefined) {
          checkRange(Number(text));
          return plain;
        }
      }
      const parsed = parseClinicalNumber(text);
      if (!parsed.ok) {
        fail(parsed.code, parsed.message);
        return;
      }
      const n =
        rule.unitFactor === undefined
          ? parsed.value
          : scaleClinicalNumber(parsed.value, rule.unitFactor, item.decimals ?? 6);
      const formatted = formatClinicalNumber(n, item.decimals);
      if (!formatted.ok) {
        fail(formatted.code, formatted.message);
        return;
      }
      // Meaning changed (unit, rounding, a qualifier re-written): the source is kept as the original.
      const q = parsed.value.qualifier;
      if (rule.unitFactor !== undefined || formatted.warning || (q !== "" && !text.startsWith(q))) {
        out.numberReinterpreted = true;
      }
      if (formatted.warning) {
        addIssue(issues, out, "warning", formatted.warning.code, raw, rule, formatted.warning.message);
      }
      checkRange(toNumber(n));
      return formatted.value;
    }
    case "date": {
      const parsed = dates.get(text);
      if (!parsed.ok) {
        fail(parsed.code, parsed.message);
        return;
      }
      if (parsed.warning)
        addIssue(issues, out, "warning", parsed.warning.code, raw, rule, parsed.warning.message);
      return parsed.value;
    }
    case "code":
      if (item.terms?.includes(text)) return text;
      if (rule.otherwise !== undefined) return rule.otherwise;
      addIssue(
        issues,
        out,
        "warning",
        "VALUE_TERM_NOT_ALLOWED",
        raw,
        rule,
        "標準用語にない値です (コード表を確認してください)",
      );
      return undefined;
    case "text": {
      if (!rule.thesaurus) return text;
      const found = findingsMemo(rule.thesaurus).get(text);
      if (found.unknown.length > 0) {
        addIssue(
          issues,
          out,
          "warning",
          "VALUE_THESAURUS_UNKNOWN",
          raw,
          rule,
          `シソーラスにない所見が ${found.unknown.length} 件あります (原文のまま出力)`,
        );
      }
      if (found.terms.length > 0 || found.unknown.length > 0) out.finding = "abnormal";
      else if (found.normal && out.finding === undefined) out.finding = "normal";
      return found.unknown.length === 0 ? found.terms : [...found.terms, ...found.unknown];
    }
  }

  function checkRange(x: number): void {
    const range = item.range;
    if (range && (x < range.min || x > range.max)) {
      addIssue(
        issues,
        out,
        "warning",
        "VALUE_OUT_OF_RANGE",
        raw,
        rule,
        `入力範囲 (${range.min}〜${range.max}${item.unit ?? ""}) の外です`,
      );
    }
  }

  function fail(code: IssueCode, message: string): undefined {
    addIssue(issues, out, "warning", code, raw, rule, message);
    return undefined;
  }
}

/** 和暦 dates and thesaurus look-ups are pure functions of their text: memoised (pure-memo.ts). */
const dates = new PureMemo(parseJapaneseDate);
const findings = new WeakMap<ThesaurusDomain, PureMemo<FindingLookup>>();

function findingsMemo(domain: ThesaurusDomain): PureMemo<FindingLookup> {
  let memo = findings.get(domain);
  if (memo === undefined) {
    memo = new PureMemo((text) => lookupFindings(domain, text));
    findings.set(domain, memo);
  }
  return memo;
}

/** The code step: exact key, then patterns (both after half-width and optional case folding). */
function lookupCode(rule: CompiledRule, trimmed: string, halfWidth: string): string | undefined {
  const codes = rule.codes;
  if (codes) {
    const exact = rule.caseFold ? undefined : codes.get(trimmed);
    if (exact !== undefined) return exact;
    const folded = codes.get(rule.caseFold ? halfWidth.toLowerCase() : halfWidth);
    if (folded !== undefined) return folded;
  }
  if (rule.codePatterns) {
    const key = rule.caseFold ? halfWidth.toLowerCase() : halfWidth;
    for (const p of rule.codePatterns) if (p.pattern.matches(key)) return p.term;
  }
  return undefined;
}

/** 「X」 for a short code in a message (codes are short; longer text is not repeated). */
function nameCode(code: string): string {
  return code.length <= 12 ? `「${code}」` : ` (${code.length} 文字)`;
}

function addIssue(
  issues: Issue[],
  out: FieldOutcome,
  defaultSeverity: IssueSeverity,
  code: IssueCode,
  raw: RawValue | undefined,
  rule: CompiledRule,
  message: string,
): void {
  const severity = rule.severity?.get(code) ?? defaultSeverity;
  if (severity === "error") out.rejected = true;
  issues.push({
    severity,
    code,
    row: raw?.row ?? 0,
    ...(raw ? { column: raw.column } : {}),
    item: rule.item.key,
    message: `${rule.item.name}: ${message}`,
  });
}
