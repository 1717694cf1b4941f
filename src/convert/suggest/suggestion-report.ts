/**
 * The suggestion as JSON for programs and the office UI: per column (or test code) the item chosen,
 * its confidence and reason, the value shape, and the code values it could not place. Holds no value
 * of a personal item or of free text (the suggestion never keeps them).
 */
import type { MappingSuggestion } from "./suggest-mapping.js";
import type { ValueRuleSuggestion } from "./value-rule.js";

export interface SuggestionRule {
  readonly columns?: readonly string[];
  readonly code?: string;
  readonly item: string | undefined;
  readonly confidence: number;
  readonly reason: string;
  readonly shape: string;
  readonly dateStyles?: readonly string[];
  readonly unplacedValues?: readonly string[];
}

export interface SuggestionReport {
  readonly format: "kenshin-suggestion";
  readonly version: 1;
  readonly layout: "wide" | "long";
  readonly source: MappingSuggestion["source"];
  readonly rowsSampled: number;
  readonly rules: readonly SuggestionRule[];
  readonly unplacedColumns: MappingSuggestion["unplacedColumns"];
}

function rule(r: ValueRuleSuggestion): Omit<SuggestionRule, "columns" | "code"> {
  return {
    item: r.item?.key,
    confidence: r.confidence,
    reason: r.reason,
    shape: r.shape.kind,
    ...(r.shape.dateStyles.length > 0 ? { dateStyles: r.shape.dateStyles } : {}),
    ...(r.codes && r.codes.unplaced.length > 0 ? { unplacedValues: r.codes.unplaced } : {}),
  };
}

export function suggestionReport(s: MappingSuggestion): SuggestionReport {
  return {
    format: "kenshin-suggestion",
    version: 1,
    layout: s.layout,
    source: s.source,
    rowsSampled: s.rowsSampled,
    rules: [
      ...s.fields.map((f) => ({ columns: f.columns, ...rule(f) })),
      ...(s.long?.items ?? []).map((i) => ({ code: i.code, ...rule(i) })),
    ],
    unplacedColumns: s.unplacedColumns,
  };
}
