/**
 * Checks a parsed mapping against the dictionary and thesaurus and compiles it into look-ups the
 * engine uses per row. Everything that can be wrong with a mapping is found here, before any row is
 * read: unknown items, code tables naming terms the item does not allow, rules that do not fit the
 * item's type, unknown thesaurus domains. Column names are checked once the header is known
 * (`bindColumns`).
 */
import type { Dictionary, DictionaryItem } from "../format/dictionary.js";
import { KEY, PRESENCE_NO, PRESENCE_YES } from "../format/well-known-items.js";
import { suggestion } from "./did-you-mean.js";
import { ConvertError } from "./errors.js";
import type { FieldRule, Mapping, ValueRule } from "./mapping.js";
import type { IssueCode, IssueSeverity } from "./issues.js";
import { compilePattern, type TextPattern } from "./text-pattern.js";
import {
  extendDomain,
  findingMatchKey,
  type FindingMatch,
  type Thesaurus,
  type ThesaurusDomain,
} from "./thesaurus.js";
import { toHalfWidth } from "./width.js";

/** A value rule resolved against the dictionary. */
export interface CompiledRule {
  readonly item: DictionaryItem;
  /** Position of the item in the record. */
  readonly index: number;
  /** Exact code keys (keyed by `codeKey`) → term. */
  readonly codes: ReadonlyMap<string, string> | undefined;
  /** Code patterns tried after the exact keys. */
  readonly codePatterns: readonly { readonly pattern: TextPattern; readonly term: string }[] | undefined;
  /** Whether code keys are compared ignoring case. */
  readonly caseFold: boolean;
  /** Term for any non-empty value nothing else matched. */
  readonly otherwise: string | undefined;
  /** True when codes, code patterns or `otherwise` apply (the value goes through the code step). */
  readonly coded: boolean;
  readonly unknownCode: "warning" | "error";
  /** Per-field severity policy (issue code → severity), when the mapping sets one. */
  readonly severity: ReadonlyMap<IssueCode, IssueSeverity> | undefined;
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
  /** Thesaurus domains used, with the institution's vocabulary applied. */
  readonly domains: ReadonlyMap<string, ThesaurusDomain>;
  /** The shipped (or given) thesaurus's name and version, for the report. */
  readonly thesaurus: { readonly name: string; readonly version: string };
}

/** The key a code is looked up by: trimmed, half-width, and lower-cased when the rule folds case. */
export function codeKey(text: string, caseFold: boolean): string {
  const t = toHalfWidth(text.trim());
  return caseFold ? t.toLowerCase() : t;
}

/** Checks and compiles a mapping. Throws ConvertError MAP_* naming what is wrong and where. */
export function checkMapping(mapping: Mapping, dictionary: Dictionary, thesaurus: Thesaurus): CheckedMapping {
  const domains = buildVocabulary(mapping, thesaurus);
  const ctx = { mapping, dictionary, thesaurus, domains };
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

  checkReferenceRanges(mapping, dictionary);
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
    domains,
    thesaurus: { name: thesaurus.name, version: thesaurus.version },
  };
}

/** The mapping's `vocabulary` applied on top of the thesaurus, per domain. */
function buildVocabulary(mapping: Mapping, thesaurus: Thesaurus): Map<string, ThesaurusDomain> {
  const out = new Map<string, ThesaurusDomain>();
  for (const [name, ext] of Object.entries(mapping.vocabulary)) {
    const where = `vocabulary.${name}`;
    const patterns = ext.patterns.map((p, i) => {
      const at = `${where}.patterns[${i}]`;
      if ((p.term === undefined) === (p.normal === undefined)) {
        throw invalid(at, "term と normal: true のどちらか一方を指定してください");
      }
      const match: FindingMatch = p.term !== undefined ? { kind: "term", term: p.term } : { kind: "normal" };
      return { pattern: compilePattern(p.pattern, findingMatchKey, at), match };
    });
    try {
      out.set(name, extendDomain(name, thesaurus.domain(name), { ...ext, patterns }));
    } catch (error) {
      if (error instanceof ConvertError && error.code === "THESAURUS_INVALID") {
        throw invalid(where, error.message);
      }
      throw error;
    }
  }
  return out;
}

function compileRule(
  ctx: {
    mapping: Mapping;
    dictionary: Dictionary;
    thesaurus: Thesaurus;
    domains: ReadonlyMap<string, ThesaurusDomain>;
  },
  rule: ValueRule | FieldRule,
  where: string,
): CompiledRule {
  const item = itemOrThrow(ctx.dictionary, rule.item, where);
  const caseFold = rule.caseFold ?? false;
  const termAllowed = (term: string, what: string): void => {
    if (item.type === "code" && term !== "" && !(item.terms ?? []).includes(term)) {
      throw invalid(
        where,
        `${what}「${term}」は項目 ${item.key} の標準用語にありません${suggestion(term, item.terms ?? [])}`,
      );
    }
  };
  const codedKind = (what: string): void => {
    if (item.type !== "code" && item.type !== "text") {
      throw invalid(where, `${what}は コード型・文字列型 の項目にだけ使えます (${item.key} は ${item.type})`);
    }
  };
  let codes: Map<string, string> | undefined;
  if (rule.codes !== undefined) {
    const table = typeof rule.codes === "string" ? ctx.mapping.codeTables[rule.codes] : rule.codes;
    if (table === undefined) {
      const name = typeof rule.codes === "string" ? rule.codes : "";
      throw invalid(
        where,
        `コード表 ${name} が codeTables にありません${suggestion(name, Object.keys(ctx.mapping.codeTables))}`,
      );
    }
    codedKind("コード表");
    codes = new Map();
    for (const [code, term] of Object.entries(table)) {
      termAllowed(term, "コード表の値");
      const key = codeKey(code, caseFold);
      const earlier = codes.get(key);
      if (earlier !== undefined && earlier !== term) {
        throw invalid(
          where,
          `コード「${code}」が「${earlier}」と「${term}」の両方を指します (大文字小文字・全角半角を同一視)`,
        );
      }
      codes.set(key, term);
    }
  }
  let codePatterns: { pattern: TextPattern; term: string }[] | undefined;
  if (rule.codePatterns !== undefined) {
    codedKind("codePatterns");
    codePatterns = rule.codePatterns.map((p, i) => {
      termAllowed(p.term, "codePatterns の値");
      return {
        pattern: compilePattern(p.pattern, (t) => codeKey(t, caseFold), `${where}.codePatterns[${i}]`),
        term: p.term,
      };
    });
  }
  if (rule.otherwise !== undefined) {
    codedKind("otherwise");
    termAllowed(rule.otherwise, "otherwise の値");
    if (rule.thesaurus !== undefined) {
      throw invalid(
        where,
        "otherwise はシソーラスと一緒には使えません (シソーラスにない所見は原文のまま出力します)",
      );
    }
  }
  let domain: ThesaurusDomain | undefined;
  if (rule.thesaurus !== undefined) {
    if (item.type !== "text") throw invalid(where, `シソーラスは文字列型の項目にだけ使えます (${item.key})`);
    domain = ctx.domains.get(rule.thesaurus) ?? ctx.thesaurus.domain(rule.thesaurus);
    if (!domain) {
      const known = [...new Set([...ctx.thesaurus.domainNames(), ...ctx.domains.keys()])];
      throw new ConvertError(
        "MAP_THESAURUS_UNKNOWN",
        `シソーラスの分野 ${rule.thesaurus} がありません${suggestion(rule.thesaurus, known)}`,
        { where, domain: rule.thesaurus, known },
      );
    }
  }
  if (rule.unit !== undefined && item.type !== "number") {
    throw invalid(where, `単位換算は数値型の項目にだけ使えます (${item.key})`);
  }
  const severity = new Map<IssueCode, IssueSeverity>();
  if (rule.unknownCode !== undefined) severity.set("VALUE_CODE_UNKNOWN", rule.unknownCode);
  for (const [code, level] of Object.entries(rule.severity ?? {})) severity.set(code as IssueCode, level);
  return {
    item,
    index: ctx.dictionary.indexOf(item.key),
    codes,
    codePatterns,
    caseFold,
    otherwise: rule.otherwise,
    coded: codes !== undefined || codePatterns !== undefined || rule.otherwise !== undefined,
    unknownCode: rule.unknownCode ?? "warning",
    severity: severity.size > 0 ? severity : undefined,
    thesaurus: domain,
    unitFactor: rule.unit?.factor,
    where,
  };
}

/** referenceRanges: number items only, with a low, a high or a text, and low ≤ high. */
function checkReferenceRanges(mapping: Mapping, dictionary: Dictionary): void {
  for (const [key, range] of Object.entries(mapping.referenceRanges)) {
    const where = `referenceRanges.${key}`;
    const item = itemOrThrow(dictionary, key, where);
    const fail = (message: string): never => {
      throw new ConvertError("MAP_INVALID_RULE", `${where}: ${message}`, { where, item: key });
    };
    if (item.type !== "number") fail(`基準値は数値の項目にだけ書けます (${item.name} は ${item.type})`);
    if (range.low === undefined && range.high === undefined && range.text === undefined)
      fail("low、high、text のどれかを書いてください");
    if (range.low !== undefined && range.high !== undefined && range.low > range.high)
      fail(`low (${range.low}) が high (${range.high}) より大きくなっています`);
  }
}

function itemOrThrow(dictionary: Dictionary, key: string, where: string): DictionaryItem {
  const item = dictionary.item(key);
  if (!item) {
    throw new ConvertError(
      "MAP_UNKNOWN_ITEM",
      `項目 ${key} は辞書 (${dictionary.name}) にありません (${where})${suggestion(
        key,
        dictionary.items.flatMap((i) => [i.key, i.name]),
      )}`,
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
      : `列「${ref}」が見出し行にありません (${where})${suggestion(ref, header)}`,
    { where, column: ref },
  );
}
