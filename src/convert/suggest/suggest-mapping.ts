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
import type { Dictionary, DictionaryItem } from "../../format/dictionary.js";
import { CsvTokenizer, type SourceRow } from "../csv-tokenizer.js";
import { SourceDecoder } from "../source-decoder.js";
import type { Thesaurus } from "../thesaurus.js";
import { proposeCodes, type CodeProposal } from "./code-proposals.js";
import { ItemMatcher, type ItemMatch } from "./item-matcher.js";
import { valueShape, type ValueShape } from "./value-shape.js";

/** Bytes read from the start of the export. */
export const SAMPLE_BYTES = 1 << 20;
/** Data rows looked at. */
export const SAMPLE_ROWS = 2000;

const MISSING_TOKENS = ["未実施", "未測定", "欠測", "*", "＊", "未検査"];
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
    readonly delimiter: "," | "\t" | ";" | "|";
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

/** The rule for one column or test code: the matched item adjusted by the shape of its values. */
function valueRule(
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

function mostCommon(values: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) if (v !== "") counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  let n = 0;
  for (const [v, c] of counts) if (c > n) [best, n] = [v, c];
  return best;
}

function detectEncoding(sample: Uint8Array): "utf-8" | "cp932" {
  if (sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) return "utf-8";
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(sample, { stream: true });
    return "utf-8";
  } catch {
    return "cp932";
  }
}

/** Delimiter and banner lines: the delimiter giving the most lines with the same (> 1) field count. */
function detectDialect(text: string): {
  delimiter: MappingSuggestion["source"]["delimiter"];
  skipLines: number;
} {
  const lines = text
    .split(/\r?\n/)
    .slice(0, 50)
    .filter((l, i, all) => l !== "" || i < all.length - 1);
  let best = { delimiter: "," as MappingSuggestion["source"]["delimiter"], score: -1, skipLines: 0 };
  for (const d of [",", "\t", ";", "|"] as const) {
    const counts = lines.map((l) => l.split(d).length);
    const freq = new Map<number, number>();
    for (const c of counts) if (c > 1) freq.set(c, (freq.get(c) ?? 0) + 1);
    let mode = 0;
    let score = 0;
    for (const [c, f] of freq) if (f > score || (f === score && c > mode)) [mode, score] = [c, f];
    if (score > best.score) {
      const first = counts.findIndex((c) => c === mode);
      best = { delimiter: d, score, skipLines: Math.max(0, first) };
    }
  }
  return { delimiter: best.delimiter, skipLines: best.skipLines };
}

function tokenize(text: string, delimiter: string, skipLines: number): SourceRow[] {
  const rows: SourceRow[] = [];
  let rest = text;
  for (let i = 0; i < skipLines; i++) {
    const nl = rest.indexOf("\n");
    rest = nl < 0 ? "" : rest.slice(nl + 1);
  }
  const t = new CsvTokenizer(
    { delimiter, quote: '"', maxFieldLength: 1 << 20, maxColumns: 10_000, firstLine: skipLines + 1 },
    {
      row: (r) => {
        if (rows.length <= SAMPLE_ROWS && !r.fields.every((f) => f.trim() === "")) rows.push(r);
      },
      problem: () => undefined,
    },
  );
  t.feed(rest);
  t.end();
  return rows;
}

/** A 縦持ち export: a test-code column and a result column (with optional test name and unit). */
function detectLong(
  header: readonly string[],
): { item: number; value: number; name?: number; unit?: number } | undefined {
  const find = (re: RegExp): number =>
    header.findIndex((h) => re.test(h.normalize("NFKC").replace(/\s/g, "").toLowerCase()));
  const item = find(/^(検査|項目|測定)(コード|cd|code|番号)$|^(testcode|itemcode|code)$/);
  const value = find(/^(結果|結果値|値|検査値|測定値|検査結果|value|result)$/);
  if (item < 0 || value < 0) return undefined;
  const name = find(/^(検査|項目|測定)(名|名称)$|^(testname|itemname)$/);
  const unit = find(/^(単位|unit)$/);
  return { item, value, ...(name >= 0 ? { name } : {}), ...(unit >= 0 ? { unit } : {}) };
}
