/**
 * `kenshin map suggest`: reads the start of an export (dialect, header, a sample of rows) and proposes
 * a complete mapping — each column (or, in a 縦持ち export, each test code) matched to a dictionary
 * item by name, synonyms and the shape of its values, with a confidence, a code table where the values
 * are codes, a thesaurus area for finding text, a unit conversion where the export's unit differs.
 * What it cannot place is listed, never dropped. The result is rendered by `draft-yaml.ts`.
 *
 * Privacy: the suggestion holds column names, shapes and counts, and the distinct values of code-like
 * columns only (short and few, e.g. 1/2, A–E, (+)); never a value of a personal item (name, IDs, birth
 * date, insurance numbers) or of free text.
 */
import type { Dictionary } from "../../format/dictionary.js";
import { SourceDecoder } from "../source-decoder.js";
import type { Thesaurus } from "../thesaurus.js";
import { ItemMatcher } from "./item-matcher.js";
import {
  detectDialect,
  detectEncoding,
  detectLong,
  SAMPLE_ROWS,
  tokenize,
  type Delimiter,
} from "./sample-layout.js";
import { valueRule, type ValueRuleSuggestion } from "./value-rule.js";

/** Bytes read from the start of the export. */
export const SAMPLE_BYTES = 1 << 20;

const MISSING_TOKENS = ["未実施", "未測定", "欠測", "*", "＊", "未検査"];

export interface FieldSuggestion extends ValueRuleSuggestion {
  readonly columns: readonly string[];
}

export interface TestCodeSuggestion extends ValueRuleSuggestion {
  readonly code: string;
  readonly testName: string | undefined;
  readonly sourceUnit: string | undefined;
}

export interface MappingSuggestion {
  readonly source: {
    readonly encoding: "utf-8" | "cp932";
    readonly delimiter: Delimiter;
    readonly skipLines: number;
    readonly missingValues: readonly string[];
  };
  readonly layout: "wide" | "long";
  readonly rowsSampled: number;
  /** Columns that feed an item (wide: all such; long: the visit's header items). */
  readonly fields: readonly FieldSuggestion[];
  /** Columns no item was found for, or taken for another purpose (test name, unit). */
  readonly unplacedColumns: readonly { readonly column: string; readonly why: string }[];
  readonly long?: {
    readonly visitKey: readonly string[];
    readonly itemColumn: string;
    readonly valueColumn: string;
    readonly items: readonly TestCodeSuggestion[];
  };
  readonly computed: readonly ("age" | "bmi" | "egfr")[];
  readonly presence: readonly { readonly item: string; readonly from: string }[];
}

export function suggestMapping(
  bytes: Uint8Array,
  dictionary: Dictionary,
  thesaurus: Thesaurus,
): MappingSuggestion {
  const sample = bytes.subarray(0, SAMPLE_BYTES);
  const encoding = detectEncoding(sample);
  const decoder = new SourceDecoder(encoding);
  let text = decoder.write(sample);
  if (sample.length === bytes.length) text += decoder.end();
  else text = text.slice(0, Math.max(0, text.lastIndexOf("\n") + 1)); // a cut last line is dropped

  const { delimiter, skipLines } = detectDialect(text);
  const rows = tokenize(text, delimiter, skipLines);
  const header = (rows[0]?.fields ?? []).map((h) => h.trim());
  const data = rows.slice(1, SAMPLE_ROWS + 1).map((r) => r.fields);
  const missingValues = [
    "",
    ...MISSING_TOKENS.filter((t) => data.some((r) => r.some((v) => v.trim() === t))),
  ];
  const missing = new Set(missingValues);
  const columnValues = (j: number, rowsOf: readonly (readonly string[])[] = data): string[] =>
    rowsOf.map((r) => (r[j] ?? "").trim()).filter((v) => !missing.has(v));

  const matcher = new ItemMatcher(dictionary);
  const longShape = detectLong(header);
  const unplaced: { column: string; why: string }[] = [];
  let long: MappingSuggestion["long"];
  const fieldColumns: number[] = [];
  if (longShape) {
    const codeOf = (r: readonly string[]) => (r[longShape.item] ?? "").trim();
    const codes = [...new Set(data.map(codeOf).filter((c) => c !== ""))].sort();
    const items: TestCodeSuggestion[] = [];
    for (const code of codes) {
      const rowsOfCode = data.filter((r) => codeOf(r) === code);
      const testName =
        longShape.name === undefined
          ? undefined
          : mostCommon(rowsOfCode.map((r) => (r[longShape.name ?? -1] ?? "").trim()));
      const sourceUnit =
        longShape.unit === undefined
          ? undefined
          : mostCommon(rowsOfCode.map((r) => (r[longShape.unit ?? -1] ?? "").trim()));
      const values = columnValues(longShape.value, rowsOfCode);
      const m = (testName !== undefined ? matcher.match(testName) : undefined) ?? matcher.match(code);
      items.push({ code, testName, sourceUnit, ...valueRule(m, values, thesaurus, sourceUnit) });
    }
    const keyColumns: number[] = [];
    header.forEach((h, j) => {
      if (j === longShape.item || j === longShape.value) return;
      if (j === longShape.name) unplaced.push({ column: h, why: "検査名 (検査コードの見分けに使用)" });
      else if (j === longShape.unit) unplaced.push({ column: h, why: "単位 (単位換算の判断に使用)" });
      else fieldColumns.push(j);
    });
    const fields = placeFields(header, fieldColumns, columnValues, matcher, thesaurus, unplaced);
    for (const f of fields) {
      if (f.item?.key === "examinee-id" || f.item?.key === "exam-date")
        keyColumns.push(header.indexOf(f.columns[0] ?? ""));
    }
    long = {
      visitKey: keyColumns.filter((j) => j >= 0).map((j) => header[j] ?? ""),
      itemColumn: header[longShape.item] ?? "",
      valueColumn: header[longShape.value] ?? "",
      items,
    };
    return finish(
      header,
      encoding,
      delimiter,
      skipLines,
      missingValues,
      data.length,
      fields,
      unplaced,
      long,
      dictionary,
    );
  }
  header.forEach((_, j) => fieldColumns.push(j));
  const fields = placeFields(header, fieldColumns, columnValues, matcher, thesaurus, unplaced);
  return finish(
    header,
    encoding,
    delimiter,
    skipLines,
    missingValues,
    data.length,
    fields,
    unplaced,
    undefined,
    dictionary,
  );
}

function finish(
  _header: readonly string[],
  encoding: "utf-8" | "cp932",
  delimiter: MappingSuggestion["source"]["delimiter"],
  skipLines: number,
  missingValues: readonly string[],
  rowsSampled: number,
  fields: FieldSuggestion[],
  unplacedColumns: { column: string; why: string }[],
  long: MappingSuggestion["long"],
  dictionary: Dictionary,
): MappingSuggestion {
  const mapped = new Set<string>();
  for (const f of fields) if (f.item) mapped.add(f.item.key);
  for (const i of long?.items ?? []) if (i.item) mapped.add(i.item.key);
  const computed: ("age" | "bmi" | "egfr")[] = [];
  if (mapped.has("birth-date") && mapped.has("exam-date")) computed.push("age");
  if (mapped.has("height") && mapped.has("weight")) computed.push("bmi");
  if (mapped.has("creatinine") && mapped.has("sex") && (mapped.has("age") || computed.includes("age")))
    computed.push("egfr");
  const presence: { item: string; from: string }[] = [];
  const withThesaurus = [...fields, ...(long?.items ?? [])].filter(
    (f) => f.thesaurus !== undefined && f.item,
  );
  for (const f of withThesaurus) {
    const key = f.item?.key ?? "";
    const p = `${key.slice(0, -"-finding".length)}-presence`;
    if (key.endsWith("-finding") && dictionary.item(p) && !mapped.has(p))
      presence.push({ item: p, from: key });
  }
  return {
    source: { encoding, delimiter, skipLines, missingValues },
    layout: long ? "long" : "wide",
    rowsSampled,
    fields,
    unplacedColumns,
    ...(long ? { long } : {}),
    computed,
    presence,
  };
}

function placeFields(
  header: readonly string[],
  columns: readonly number[],
  valuesOf: (j: number) => string[],
  matcher: ItemMatcher,
  thesaurus: Thesaurus,
  unplaced: { column: string; why: string }[],
): FieldSuggestion[] {
  const byItem = new Map<string, FieldSuggestion>();
  const order: string[] = [];
  for (const j of columns) {
    const column = header[j] ?? `#${j + 1}`;
    const values = valuesOf(j);
    const rule = valueRule(matcher.match(column), values, thesaurus, undefined);
    if (!rule.item || rule.confidence < 0.3) {
      unplaced.push({
        column,
        why: rule.shape.kind === "empty" ? "値がなく項目を決められません" : "対応する項目が見つかりません",
      });
      continue;
    }
    const key = rule.item.key;
    const earlier = byItem.get(key);
    if (earlier === undefined) {
      byItem.set(key, { ...rule, columns: [column] });
      order.push(key);
    } else if (rule.item.multiple) {
      byItem.set(key, {
        ...earlier,
        columns: [...earlier.columns, column],
        confidence: Math.min(earlier.confidence, rule.confidence),
      });
    } else if (rule.confidence > earlier.confidence) {
      unplaced.push({
        column: earlier.columns[0] ?? "",
        why: `${rule.item.name} の候補 (「${column}」の方が近い)`,
      });
      byItem.set(key, { ...rule, columns: [column] });
    } else {
      unplaced.push({ column, why: `${rule.item.name} の候補 (「${earlier.columns[0] ?? ""}」の方が近い)` });
    }
  }
  return order.map((k) => byItem.get(k)).filter((f): f is FieldSuggestion => f !== undefined);
}

function mostCommon(values: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) if (v !== "") counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  let n = 0;
  for (const [v, c] of counts) if (c > n) [best, n] = [v, c];
  return best;
}
