/**
 * Checks a parsed mapping against the dictionary and thesaurus and compiles it into look-ups the
 * engine uses per row. Everything that can be wrong with a mapping is found here, before any row is
 * read: unknown items, code tables naming terms the item does not allow, rules that do not fit the
 * item's type, unknown thesaurus domains. Column names are checked once the header is known
 * (`bindColumns`).
 */
import type { Dictionary, DictionaryItem } from "../format/dictionary.js";
import { KEY, PRESENCE_NO, PRESENCE_YES } from "../format/well-known-items.js";
import { ConvertError } from "./errors.js";
import type { FieldRule, Mapping, ValueRule } from "./mapping.js";
import type { Thesaurus, ThesaurusDomain } from "./thesaurus.js";

/** A value rule resolved against the dictionary. */
export interface CompiledRule {
  readonly item: DictionaryItem;
  /** Position of the item in the record. */
  readonly index: number;
  readonly codes: ReadonlyMap<string, string> | undefined;
  readonly unknownCode: "warning" | "error";
  readonly thesaurus: ThesaurusDomain | undefined;
  readonly unitFactor: string | undefined;
  /** Where in the mapping this rule is, for messages (e.g. `fields[3]`). */
  readonly where: string;
}

export type FieldSource =
  | { readonly kind: "columns"; readonly refs: readonly string[] }
  | { readonly kind: "constant"; readonly value: string };

export interface CompiledField {
  readonly rule: CompiledRule;
  readonly source: FieldSource;
}

export interface CompiledLong {
  readonly visitKey: readonly string[];
  readonly itemColumn: string;
  readonly valueColumn: string;
  /** Institution test code → rule. */
  readonly items: ReadonlyMap<string, CompiledRule>;
  readonly unmapped: "ignore" | "warning";
  readonly sorted: boolean;
}

export interface PresenceRule {
  readonly presenceIndex: number;
  readonly findingIndex: number;
}

export interface CheckedMapping {
  readonly mapping: Mapping;
  readonly dictionary: Dictionary;
  readonly fields: readonly CompiledField[];
  readonly long: CompiledLong | undefined;
  readonly computed: ReadonlySet<"bmi" | "age" | "egfr">;
  readonly presence: readonly PresenceRule[];
  readonly missingValues: ReadonlySet<string>;
}

/** Checks and compiles a mapping. Throws ConvertError MAP_* naming what is wrong and where. */
export function checkMapping(mapping: Mapping, dictionary: Dictionary, thesaurus: Thesaurus): CheckedMapping {
  const ctx = { mapping, dictionary, thesaurus };
  const seen = new Map<string, string>();
  const fields = mapping.fields.map((f, i): CompiledField => {
    const where = `fields[${i}]`;
    const rule = compileRule(ctx, f, where);
    if (f.columns !== undefined && f.columns.length > 1 && !rule.item.multiple) {
      throw invalid(where, `項目 ${f.item} は複数の値を持てないため columns は 1 列だけにしてください`);
    }
    const previous = seen.get(f.item);
    if (previous !== undefined) {
      throw invalid(where, `項目 ${f.item} は ${previous} でも割り当てられています`);
    }
    seen.set(f.item, where);
    const source: FieldSource =
      f.constant !== undefined
        ? { kind: "constant", value: f.constant }
        : { kind: "columns", refs: f.columns ?? (f.column !== undefined ? [f.column] : []) };
    return { rule, source };
  });

  let long: CompiledLong | undefined;
  if (mapping.long) {
    const items = new Map<string, CompiledRule>();
    for (const [code, r] of Object.entries(mapping.long.items)) {
      const where = `long.items.${code}`;
      const rule = compileRule(ctx, r, where);
      const previous = seen.get(r.item);
      if (previous?.startsWith("fields"))
        throw invalid(where, `項目 ${r.item} は ${previous} でも割り当てられています`);
      seen.set(r.item, where);
      items.set(code, rule);
    }
    long = {
      visitKey: mapping.long.visitKey,
      itemColumn: mapping.long.itemColumn,
      valueColumn: mapping.long.valueColumn,
      items,
      unmapped: mapping.long.unmapped ?? "warning",
      sorted: mapping.long.sorted ?? false,
    };
  }

  const computed = new Set(mapping.computed);
  const needs: Record<"bmi" | "age" | "egfr", readonly string[]> = {
    bmi: [KEY.bmi, KEY.height, KEY.weight],
    age: [KEY.age, KEY.birthDate, KEY.examDate],
    egfr: [KEY.egfr, KEY.creatinine, KEY.age, KEY.sex],
  };
  for (const c of computed) {
    for (const key of needs[c]) {
      if (!dictionary.item(key)) {
        throw new ConvertError("MAP_UNKNOWN_ITEM", `計算項目 ${c} に必要な項目 ${key} が辞書にありません`, {
          where: "computed",
          item: key,
        });
      }
    }
  }

  const presence = mapping.presence.map((p, i): PresenceRule => {
    const where = `presence[${i}]`;
    const presenceItem = itemOrThrow(dictionary, p.item, where);
    const findingItem = itemOrThrow(dictionary, p.from, where);
    const terms = presenceItem.terms ?? [];
    if (presenceItem.type !== "code" || !terms.includes(PRESENCE_YES) || !terms.includes(PRESENCE_NO)) {
      throw invalid(where, `${p.item} は所見の有無 (${PRESENCE_YES}/${PRESENCE_NO}) の項目ではありません`);
    }
    const hasThesaurus =
      fields.some((f) => f.rule.item.key === p.from && f.rule.thesaurus) ||
      [...(long?.items.values() ?? [])].some((r) => r.item.key === p.from && r.thesaurus);
    if (findingItem.type !== "text" || !hasThesaurus) {
      throw invalid(where, `${p.from} はシソーラスを指定した所見項目として割り当ててください`);
    }
    return { presenceIndex: dictionary.indexOf(p.item), findingIndex: dictionary.indexOf(p.from) };
  });

  return {
    mapping,
    dictionary,
    fields,
    long,
    computed,
    presence,
    missingValues: new Set(mapping.source.missingValues.map((v) => v.trim())),
  };
}

function compileRule(
  ctx: { mapping: Mapping; dictionary: Dictionary; thesaurus: Thesaurus },
  rule: ValueRule | FieldRule,
  where: string,
): CompiledRule {
  const item = itemOrThrow(ctx.dictionary, rule.item, where);
  let codes: Map<string, string> | undefined;
  if (rule.codes !== undefined) {
    const table = typeof rule.codes === "string" ? ctx.mapping.codeTables[rule.codes] : rule.codes;
    if (table === undefined) {
      throw invalid(
        where,
        `コード表 ${typeof rule.codes === "string" ? rule.codes : ""} が codeTables にありません`,
      );
    }
    if (item.type !== "code" && item.type !== "text") {
      throw invalid(
        where,
        `コード表は コード型・文字列型 の項目にだけ使えます (${item.key} は ${item.type})`,
      );
    }
    codes = new Map();
    for (const [code, term] of Object.entries(table)) {
      if (item.type === "code" && term !== "" && !(item.terms ?? []).includes(term)) {
        throw invalid(where, `コード表の値「${term}」は項目 ${item.key} の標準用語にありません`);
      }
      codes.set(code.trim(), term);
    }
  }
  let domain: ThesaurusDomain | undefined;
  if (rule.thesaurus !== undefined) {
    if (item.type !== "text") throw invalid(where, `シソーラスは文字列型の項目にだけ使えます (${item.key})`);
    domain = ctx.thesaurus.domain(rule.thesaurus);
    if (!domain) {
      throw new ConvertError("MAP_THESAURUS_UNKNOWN", `シソーラスの分野 ${rule.thesaurus} がありません`, {
        where,
        domain: rule.thesaurus,
        known: ctx.thesaurus.domainNames(),
      });
    }
  }
  if (rule.unit !== undefined && item.type !== "number") {
    throw invalid(where, `単位換算は数値型の項目にだけ使えます (${item.key})`);
  }
  return {
    item,
    index: ctx.dictionary.indexOf(item.key),
    codes,
    unknownCode: rule.unknownCode ?? "warning",
    thesaurus: domain,
    unitFactor: rule.unit?.factor,
    where,
  };
}

function itemOrThrow(dictionary: Dictionary, key: string, where: string): DictionaryItem {
  const item = dictionary.item(key);
  if (!item) {
    throw new ConvertError(
      "MAP_UNKNOWN_ITEM",
      `項目 ${key} は辞書 (${dictionary.name}) にありません (${where})`,
      {
        where,
        item: key,
      },
    );
  }
  return item;
}

function invalid(where: string, message: string): ConvertError {
  return new ConvertError("MAP_INVALID_RULE", `マッピングの規則が正しくありません (${where}): ${message}`, {
    where,
  });
}

/** Resolves a column reference against the header: a header name, or "#N" (1-based position). */
export function resolveColumn(ref: string, header: readonly string[] | null, where: string): number {
  if (ref.startsWith("#")) {
    const n = Number(ref.slice(1));
    if (Number.isInteger(n) && n >= 1 && n <= 100_000) return n - 1;
  } else if (header !== null) {
    const i = header.indexOf(ref);
    if (i >= 0) return i;
  }
  throw new ConvertError(
    "MAP_UNKNOWN_COLUMN",
    header === null
      ? `見出し行のないファイルでは列を "#番号" で指定してください: ${ref} (${where})`
      : `列「${ref}」が見出し行にありません (${where})`,
    { where, column: ref },
  );
}
