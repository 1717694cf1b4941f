/**
 * The mapping file: how one institution's export becomes standard records (the job of POST.ex's
 * 変換テーブル / マップファイル, as an open, documented format).
 *
 * Format version 1. JSON or YAML; the JSON Schema generated from this module is checked in at
 * `schema/mapping.schema.json` (a test keeps it in step). See README "Mapping files".
 */
import { readFile } from "node:fs/promises";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { z } from "zod";
import { ConvertError } from "./errors.js";
import { FIELD_POLICY_CODES } from "./issues.js";
import { describeSchemaIssue, propertyNames } from "./schema-messages.js";
import { PATTERN_MAX_LENGTH } from "./text-pattern.js";

export const MAPPING_FORMAT = "kenshin-mapping";
export const MAPPING_FORMAT_VERSION = 1;

/** A source column: its header name, or "#N" for the N-th column (1-based) when there is no header. */
const columnRef = z.string().min(1).max(200);

const codeTableRef = z.union([z.string().min(1), z.record(z.string(), z.string())]);

const unitConversion = z
  .object({
    /** Unit the source writes (documentation and the report; the item's own unit is the target). */
    from: z.string().min(1),
    /** Exact decimal factor: standard value = source value × factor (e.g. "18.016" mmol/L → mg/dL). */
    factor: z.string().regex(/^\d+(\.\d+)?$/, "factor は 0.1 や 18.016 のような正の小数で書いてください"),
  })
  .strict();

/**
 * A text pattern: `*` any run of characters, `?` one character, everything else literal (no regular
 * expressions, so no pattern from a mapping can make matching slow). Checked by `compilePattern`.
 */
const patternText = z.string().min(1).max(PATTERN_MAX_LENGTH);

/** A code key pattern → the term it stands for (tried after the exact keys of `codes`). */
const codePattern = z.object({ pattern: patternText, term: z.string().max(512) }).strict();

export const fieldRuleSchema = z
  .object({
    /** Target item key in the dictionary. */
    item: z.string().min(1),
    /** One source column. */
    column: columnRef.optional(),
    /** Several source columns joined into one multi-value item with 「、」 (empty ones skipped). */
    columns: z.array(columnRef).min(1).max(50).optional(),
    /** A constant value for every record (e.g. the institution number). */
    constant: z.string().max(512).optional(),
    /** Code → standard term table: a name from `codeTables`, or an inline table. */
    codes: codeTableRef.optional(),
    /** What to do with a code missing from `codes`: a warning and empty value (default), or an error. */
    unknownCode: z.enum(["warning", "error"]).optional(),
    /** Patterns tried when no exact code matches (e.g. `{ pattern: "*異常なし*", term: 特記すべきことなし }`). */
    codePatterns: z.array(codePattern).max(200).optional(),
    /** Compare code keys and patterns ignoring upper/lower case (after half-width folding). */
    caseFold: z.boolean().optional(),
    /**
     * Any non-empty value that no code, pattern or thesaurus entry matches becomes this term (e.g.
     * 特記すべきことあり for a free-text 既往歴 column); the source text stays as the original.
     */
    otherwise: z.string().min(1).max(512).optional(),
    /** Per-field severity policy: re-grade value issues of this field (e.g. VALUE_NUMBER_INVALID: error). */
    severity: z.partialRecord(z.enum(FIELD_POLICY_CODES), z.enum(["error", "warning", "info"])).optional(),
    /** Thesaurus domain for free-text findings (synonyms → standard finding terms). */
    thesaurus: z.string().min(1).optional(),
    /** Declared unit conversion for numbers. */
    unit: unitConversion.optional(),
  })
  .strict();

const vocabularyPhrase = z.string().min(1).max(200);
const vocabularyDomain = z
  .object({
    /** Standard term → the institution's words for it. */
    synonyms: z.record(vocabularyPhrase, z.array(vocabularyPhrase).max(1000)).default({}),
    /** Phrases meaning the exam found nothing. */
    normal: z.array(vocabularyPhrase).max(1000).default([]),
    /** Patterns: a finding matching one is `term` (or normal when `normal: true`). */
    patterns: z
      .array(
        z
          .object({
            pattern: patternText,
            term: vocabularyPhrase.optional(),
            normal: z.literal(true).optional(),
          })
          .strict(),
      )
      .max(200)
      .default([]),
  })
  .strict();

export const longLayoutSchema = z
  .object({
    /** Source columns that together identify one visit (e.g. 受診者番号 and 受診日). */
    visitKey: z.array(columnRef).min(1).max(10),
    /** Column holding the institution's own test code. */
    itemColumn: columnRef,
    /** Column holding the result value. */
    valueColumn: columnRef,
    /** Institution test code → rule for that item (same options as a field rule, without columns). */
    items: z.record(
      z.string().min(1),
      fieldRuleSchema.omit({ column: true, columns: true, constant: true }).strict(),
    ),
    /** Rows whose test code is not in `items`: ignore silently or report a warning (default). */
    unmapped: z.enum(["ignore", "warning"]).optional(),
    /**
     * True when the export is sorted by visit: records stream out with flat memory. Otherwise
     * (default) rows are grouped in memory in first-seen order of visits.
     */
    sorted: z.boolean().optional(),
  })
  .strict();

const headerSpec = z
  .object({
    /** Number of header rows (after `skipLines`). */
    rows: z.number().int().min(1).max(10),
    /** Which header row (1-based) holds the column names. Default: the last one. */
    namesFrom: z.number().int().min(1).max(10).optional(),
  })
  .strict();

export const sourceSchema = z
  .object({
    /** cp932 (Shift_JIS as Windows writes it), utf-8, or auto (BOM, else UTF-8 if valid, else cp932). */
    encoding: z.enum(["cp932", "utf-8", "auto"]).default("auto"),
    delimiter: z.enum([",", "\t", ";", "|"]).default(","),
    /** Quote character, or "none" when fields are never quoted. */
    quote: z.enum(['"', "'", "none"]).default('"'),
    /** Lines to skip before the header (titles, export banners). */
    skipLines: z.number().int().min(0).max(1000).default(0),
    /** Header rows, or false when columns are addressed by position ("#1", "#2", …). */
    header: z.union([headerSpec, z.literal(false)]).default({ rows: 1 }),
    /** Largest accepted source field in characters (a larger one is a row issue, not a crash). */
    maxFieldLength: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    /** Largest accepted number of columns in one row. */
    maxColumns: z.number().int().min(1).max(100_000).default(10_000),
    /**
     * Accept rows with more columns than the header when the extra ones are empty (exports that end
     * every row with a delimiter). Off by default: a shifted row must not pass as a good one.
     */
    allowTrailingEmptyColumns: z.boolean().default(false),
    /** Values that mean "no result" and become empty (e.g. 未実施, *, －). Compared after trimming. */
    missingValues: z.array(z.string()).max(100).default([""]),
    /**
     * Export columns deliberately left out of the mapping. Every other column no rule reads is listed
     * in the report (SOURCE_COLUMN_UNMAPPED, info, once per column); these are not.
     */
    ignoreColumns: z.array(columnRef).max(10_000).default([]),
  })
  .strict();

export const mappingSchema = z
  .object({
    format: z.literal(MAPPING_FORMAT),
    version: z.literal(MAPPING_FORMAT_VERSION),
    /** Human name of this mapping (e.g. "さくら健診センター 健診システムX 2025"). */
    name: z.string().min(1).max(200),
    /** The institution's own revision label of this mapping (e.g. "2025-04 第3版"); the report records it. */
    revision: z.string().min(1).max(100).optional(),
    /** Institution this mapping belongs to (10-digit 健診機関番号), when fixed. */
    institutionNumber: z
      .string()
      .regex(/^\d{10}$/)
      .optional(),
    source: sourceSchema,
    /** wide: one row per visit; long (縦持ち): one row per visit × test item. */
    layout: z.enum(["wide", "long"]),
    long: longLayoutSchema.optional(),
    /** Field rules: for wide exports every item; for long exports the visit's header items. */
    fields: z.array(fieldRuleSchema).max(10_000),
    /**
     * The institution's own vocabulary on top of the shipped thesaurus, per domain (ecg, chest-xray …):
     * synonyms for standard (or new) finding terms, phrases meaning "nothing found", and patterns.
     * Entries here are consulted before the shipped thesaurus.
     */
    vocabulary: z.record(z.string().regex(/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/), vocabularyDomain).default({}),
    /**
     * The same examinee and visit (受診者番号 + 実施日) more than once: an error on every later record
     * (default), or `merge`: the records are combined into one (empty fields filled from the others;
     * two different values for one item reject the merged record). Merging holds the records in
     * memory until the end of the file.
     */
    duplicates: z.enum(["error", "merge"]).default("error"),
    /** Named code → term tables used by `codes`. */
    codeTables: z.record(z.string().min(1), z.record(z.string(), z.string())).default({}),
    /** Items computed when the export lacks them (and cross-checked when it has them). */
    computed: z.array(z.enum(["bmi", "age", "egfr"])).default([]),
    /** 所見の有無 items derived from finding text when the export lacks them. */
    presence: z.array(z.object({ item: z.string().min(1), from: z.string().min(1) }).strict()).default([]),
    /**
     * Checkup kind whose required items are checked on every record; when absent, the record's own
     * 健診種別 (checkup-kind) decides.
     */
    requiredFor: z.string().min(1).optional(),
    /**
     * The institution's reference ranges (基準値, its laboratory's) per number item, in the item's unit:
     * written as Observation.referenceRange in the FHIR eCheckup output (the standard CSV has no place
     * for them).
     */
    referenceRanges: z
      .record(
        z.string().min(1),
        z
          .object({
            low: z.number().optional(),
            high: z.number().optional(),
            text: z.string().min(1).max(200).optional(),
          })
          .strict(),
      )
      .default({}),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.layout === "long" && m.long === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["long"],
        message: "layout: long には long の設定 (visitKey, itemColumn, valueColumn, items) が必要です",
      });
    }
    if (m.layout === "wide" && m.long !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["long"],
        message: "long の設定は layout: long のときだけ使えます",
      });
    }
    m.fields.forEach((f, i) => {
      const sources = [f.column, f.columns, f.constant].filter((s) => s !== undefined).length;
      if (sources !== 1) {
        ctx.addIssue({
          code: "custom",
          path: ["fields", i],
          message: "column・columns・constant のどれか1つだけを指定してください",
        });
      }
    });
  });

export type Mapping = z.output<typeof mappingSchema>;
export type FieldRule = z.output<typeof fieldRuleSchema>;
export type LongLayout = z.output<typeof longLayoutSchema>;
export type SourceDialect = z.output<typeof sourceSchema>;
/** The options a value rule may carry (a field rule without its source). */
export type ValueRule = Omit<FieldRule, "column" | "columns" | "constant">;

/**
 * Parses mapping text (JSON or YAML; JSON is YAML) and checks it against the schema. Throws
 * ConvertError MAP_SYNTAX (with line and column) or MAP_SCHEMA (with the path of the first problem).
 */
export function parseMapping(text: string, origin = "mapping"): Mapping {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true, maxAliasCount: 100 });
  } catch (cause) {
    const pos = cause instanceof YAMLParseError ? cause.linePos?.[0] : undefined;
    throw new ConvertError(
      "MAP_SYNTAX",
      `マッピングファイルの書式が正しくありません (${origin}${pos ? ` ${pos.line}行${pos.col}列` : ""})`,
      { origin, line: pos?.line, col: pos?.col },
      { cause },
    );
  }
  if (
    typeof raw === "object" &&
    raw !== null &&
    "version" in raw &&
    raw.version !== MAPPING_FORMAT_VERSION &&
    (raw as { format?: unknown }).format === MAPPING_FORMAT
  ) {
    throw new ConvertError(
      "MAP_UNSUPPORTED_VERSION",
      `このマッピング形式のバージョンには対応していません (対応: ${MAPPING_FORMAT_VERSION})`,
      { origin, version: raw.version },
    );
  }
  const parsed = mappingSchema.safeParse(raw);
  if (!parsed.success) {
    const keys = knownKeys();
    const issues = parsed.error.issues.map((i) => ({
      path: formatPath(i.path),
      message: describeSchemaIssue(i, raw, keys),
    }));
    const first = issues[0];
    throw new ConvertError(
      "MAP_SCHEMA",
      `マッピングファイルの内容が正しくありません: ${first ? `${first.path}: ${first.message}` : ""}`,
      { origin, issues: issues.slice(0, 20) },
    );
  }
  return parsed.data;
}

let keysCache: readonly string[] | undefined;
function knownKeys(): readonly string[] {
  keysCache ??= [...propertyNames(z.toJSONSchema(mappingSchema, { io: "input", unrepresentable: "any" }))];
  return keysCache;
}

/** Reads and parses a mapping file. */
export async function loadMapping(path: string): Promise<{ mapping: Mapping; text: string }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new ConvertError("MAP_UNREADABLE", `マッピングファイルを読めません: ${path}`, { path }, { cause });
  }
  return { mapping: parseMapping(text, path), text };
}

/** `fields[3].column` style path for messages. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out === "" ? "(root)" : out;
}
