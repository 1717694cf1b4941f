/**
 * The rule proposed for one column (or test code): the item its name matched, adjusted by the shape of
 * its values — confidence, a code table for code items, a thesaurus area for findings, an exact unit
 * conversion where the export's unit differs from the dictionary's. Personal items never keep their
 * distinct values.
 */
import type { DictionaryItem } from "../../format/dictionary.js";
import type { Thesaurus } from "../thesaurus.js";
import { proposeCodes, type CodeProposal } from "./code-proposals.js";
import type { ItemMatch } from "./item-matcher.js";
import { valueShape, type ValueShape } from "./value-shape.js";

/** Items whose values are personal data: their distinct values are never kept in a suggestion. */
const PERSONAL = new Set([
  "name",
  "name-kana",
  "examinee-id",
  "birth-date",
  "insurer-number",
  "insurance-symbol",
  "insurance-number",
  "insurance-branch",
  "voucher-number",
  "doctor-name",
]);

export interface ValueRuleSuggestion {
  readonly item: DictionaryItem | undefined;
  readonly confidence: number;
  readonly reason: string;
  readonly shape: ValueShape;
  readonly codes?: CodeProposal;
  readonly thesaurus?: string;
  readonly unit?: { readonly from: string; readonly factor: string };
}

/** Exact unit conversions to the dictionary's unit (standard value = source × factor). */
const UNIT_FACTORS: readonly { items: readonly string[]; from: string; factor: string }[] = [
  { items: ["fasting-glucose", "random-glucose"], from: "mmol/l", factor: "18.016" },
  { items: ["total-protein", "albumin"], from: "g/l", factor: "0.1" },
  {
    items: ["total-cholesterol", "hdl-cholesterol", "ldl-cholesterol", "non-hdl-cholesterol"],
    from: "mmol/l",
    factor: "38.67",
  },
  { items: ["triglycerides", "triglycerides-random"], from: "mmol/l", factor: "88.57" },
  { items: ["creatinine"], from: "μmol/l", factor: "0.01131" },
];

function unitKey(unit: string): string {
  return unit.normalize("NFKC").replace(/\s/g, "").toLowerCase().replace(/^u/, "μ").replace("µ", "μ");
}

/** The rule for one column or test code: the matched item adjusted by the shape of its values. */
export function valueRule(
  match: ItemMatch | undefined,
  values: readonly string[],
  thesaurus: Thesaurus,
  sourceUnit: string | undefined,
): ValueRuleSuggestion {
  const shape = valueShape(values, thesaurus);
  const item = match?.item;
  let confidence = match?.confidence ?? 0;
  const reason = match?.reason ?? "";
  if (!item && shape.kind === "findings" && shape.domain !== undefined) {
    // No name, but the values are findings a thesaurus area knows.
    return { item: undefined, confidence: 0, reason: `値が ${shape.domain} の所見に見えます`, shape };
  }
  if (!item) return { item: undefined, confidence: 0, reason: "", shape };
  const notes: string[] = [reason];
  const kindFits: Record<DictionaryItem["type"], readonly ValueShape["kind"][]> = {
    number: ["number", "empty"],
    date: ["date", "empty"],
    code: ["code", "empty", "number"],
    text: ["text", "findings", "code", "empty", "number", "date"],
  };
  if (kindFits[item.type].includes(shape.kind)) {
    if (shape.kind !== "empty") confidence = Math.min(1, confidence + 0.05);
  } else {
    confidence -= 0.3;
    notes.push(`値の形 (${shape.kind}) が項目の型 (${item.type}) と違います`);
  }
  const rule: { -readonly [K in keyof ValueRuleSuggestion]: ValueRuleSuggestion[K] } = {
    item,
    confidence,
    reason,
    shape,
  };
  if (item.type === "code") {
    const codes = proposeCodes(item, PERSONAL.has(item.key) ? [] : shape.codes);
    if (shape.codes.length > 0 && codes.unplaced.length === shape.codes.length) {
      rule.confidence -= 0.2;
      notes.push("コードを標準用語に対応付けられません");
    }
    rule.codes = codes;
  }
  if (item.type === "text" && item.key.endsWith("-finding")) {
    const domain = item.key.slice(0, -"-finding".length);
    if (thesaurus.domain(domain)) rule.thesaurus = domain;
    else if (shape.domain !== undefined) rule.thesaurus = shape.domain;
  }
  if (item.type === "number" && sourceUnit !== undefined && sourceUnit !== "" && item.unit !== undefined) {
    if (unitKey(sourceUnit) !== unitKey(item.unit)) {
      const conversion = UNIT_FACTORS.find(
        (u) => u.items.includes(item.key) && u.from === unitKey(sourceUnit),
      );
      if (conversion) {
        rule.unit = { from: sourceUnit, factor: conversion.factor };
        notes.push(`単位 ${sourceUnit} → ${item.unit} (×${conversion.factor})`);
      } else {
        rule.confidence -= 0.3;
        notes.push(`単位 ${sourceUnit} は項目の単位 ${item.unit} と違い、換算方法が分かりません`);
      }
    }
  }
  rule.reason = notes.filter((n) => n !== "").join("、");
  rule.confidence = Math.round(Math.max(0, Math.min(1, rule.confidence)) * 100) / 100;
  if (PERSONAL.has(item.key)) rule.shape = { ...shape, codes: [] };
  return rule;
}
