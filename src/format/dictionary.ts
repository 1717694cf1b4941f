/**
 * The item dictionary: which items a standard record has, in which order, and what each may hold.
 *
 * The official ver5.0 record layout (~2,000 items) is licensed; we ship an open dictionary of the same
 * shape (`data/dictionary/`) and load any file that follows this schema, so a licensee can drop in the
 * official one (see `dictionary-import.ts` for building one from a plain CSV table).
 */
import { readJsonFile } from "../json-file.js";
import { z } from "zod";
import { FormatError } from "./errors.js";

/** Value types: number (with a fixed number of decimals), coded term, free text, calendar date. */
export const ITEM_TYPES = ["number", "code", "text", "date"] as const;
export type ItemType = (typeof ITEM_TYPES)[number];

/** The standard format's largest field (ver5.0): 512 bytes in the output encoding. */
export const MAX_FIELD_BYTES = 512;

const itemKey = z
  .string()
  .regex(/^[a-z][a-z0-9]*(?:[-.][a-z0-9]+)*$/, "key must be lower-case ASCII words joined by '-' or '.'");

export const dictionaryItemSchema = z
  .object({
    /** 項番: position in the record layout; unique and ascending. */
    no: z.number().int().positive(),
    /** Stable key used by mapping files and programs; never reused for another meaning. */
    key: itemKey,
    /** 標準名称: the standard item name, also the output column header. */
    name: z.string().min(1).max(100),
    /** Category (受診者情報, 身体計測, 血液検査 …), for grouping in reports and UIs. */
    category: z.string().min(1),
    type: z.enum(ITEM_TYPES),
    /** Digits after the decimal point, for `number` items. */
    decimals: z.number().int().min(0).max(6).optional(),
    unit: z.string().min(1).optional(),
    /** Input range (inclusive); a value outside is a warning, not a rejection. */
    range: z.object({ min: z.number(), max: z.number() }).optional(),
    /** Allowed standard terms, for `code` items (values are written as these terms, never as codes). */
    terms: z.array(z.string().min(1)).optional(),
    /**
     * The code of each term in a published code system, in the order of `terms` (e.g. the MHLW
     * 特定健診 answer lists `urn:oid:1.2.392.200119.6.2003`: 1 はい, 2 いいえ). Only where sourced.
     */
    termCodes: z
      .object({ system: z.string().min(1).max(200), codes: z.array(z.string().min(1).max(20)) })
      .strict()
      .optional(),
    /** Largest value in bytes in the output encoding (≤ 512). */
    maxBytes: z.number().int().positive().max(MAX_FIELD_BYTES),
    /** Whether several values may be joined with 「、」 in one field. */
    multiple: z.boolean(),
    /** JLAC10 17-character code where the MHLW standard defines one. */
    jlac10: z
      .string()
      .regex(/^[0-9A-Z]{17}$/)
      .optional(),
    /** Checkup kinds that require this item (e.g. 特定健診); used by the required-items check. */
    requiredFor: z.array(z.string().min(1)).optional(),
    /** Free notes (source, method, caveats). */
    note: z.string().optional(),
  })
  .strict();

export const dictionarySchema = z
  .object({
    format: z.literal("kenshin-dictionary"),
    /** Version of this dictionary's contents (semver); records say which version produced them. */
    version: z.string().regex(/^\d+\.\d+\.\d+$/),
    name: z.string().min(1),
    items: z.array(dictionaryItemSchema).min(1),
  })
  .strict();

export type DictionaryItem = z.infer<typeof dictionaryItemSchema>;
export type DictionaryFile = z.infer<typeof dictionarySchema>;

/** A loaded, checked dictionary with look-ups by key. */
export interface Dictionary {
  readonly version: string;
  readonly name: string;
  /** Items in record order (ascending 項番). */
  readonly items: readonly DictionaryItem[];
  /** Item by stable key, or undefined. */
  item(key: string): DictionaryItem | undefined;
  /** Position of an item in the record (0-based), or -1. */
  indexOf(key: string): number;
}

/**
 * Checks a parsed dictionary object and builds the look-ups. Throws `FormatError` with
 * `FORMAT_DICTIONARY_INVALID` (schema), or `FORMAT_DICTIONARY_DUPLICATE_KEY` (key, name or 項番 twice).
 */
export function buildDictionary(input: unknown): Dictionary {
  const parsed = dictionarySchema.safeParse(input);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new FormatError(
      "FORMAT_DICTIONARY_INVALID",
      `辞書ファイルの形式が正しくありません: ${first ? `${first.path.join(".")}: ${first.message}` : "不明"}`,
      {
        issues: parsed.error.issues.slice(0, 10).map((i) => ({ path: i.path.join("."), message: i.message })),
      },
    );
  }
  const file = parsed.data;
  const byKey = new Map<string, number>();
  const names = new Set<string>();
  let lastNo = 0;
  file.items.forEach((item, index) => {
    if (byKey.has(item.key) || names.has(item.name) || item.no <= lastNo) {
      throw new FormatError(
        "FORMAT_DICTIONARY_DUPLICATE_KEY",
        `辞書の項目が重複しているか項番が昇順ではありません: ${item.key}`,
        { key: item.key, no: item.no, index },
      );
    }
    checkItemConsistency(item, index);
    byKey.set(item.key, index);
    names.add(item.name);
    lastNo = item.no;
  });
  return {
    version: file.version,
    name: file.name,
    items: file.items,
    item: (key) => {
      const i = byKey.get(key);
      return i === undefined ? undefined : file.items[i];
    },
    indexOf: (key) => byKey.get(key) ?? -1,
  };
}

function checkItemConsistency(item: DictionaryItem, index: number): void {
  const fail = (what: string): never => {
    throw new FormatError("FORMAT_DICTIONARY_INVALID", `辞書の項目 ${item.key} が不正です: ${what}`, {
      key: item.key,
      index,
      what,
    });
  };
  if (item.type === "code" && (item.terms === undefined || item.terms.length === 0))
    fail("code item without terms");
  if (item.type !== "code" && item.terms !== undefined) fail("terms on a non-code item");
  if (item.termCodes !== undefined && item.termCodes.codes.length !== (item.terms?.length ?? -1)) {
    fail("termCodes.codes must have one code per term");
  }
  if (item.type !== "number" && (item.decimals !== undefined || item.range !== undefined))
    fail("decimals or range on a non-number item");
  if (item.range !== undefined && item.range.min > item.range.max) fail("range.min > range.max");
}

/** Reads and checks a dictionary JSON file. */
export async function loadDictionary(path: string | URL): Promise<Dictionary> {
  const where = String(path);
  const json = await readJsonFile(path, (kind, cause) =>
    kind === "unreadable"
      ? new FormatError(
          "FORMAT_DICTIONARY_UNREADABLE",
          `辞書ファイルを読めません: ${where}`,
          { path: where },
          { cause },
        )
      : new FormatError(
          "FORMAT_DICTIONARY_INVALID",
          `辞書ファイルが JSON ではありません: ${where}`,
          { path: where },
          { cause },
        ),
  );
  return buildDictionary(json);
}

/** The code system of 特定健診 item codes (JLAC10 and its JLAC10-style codes for non-lab items). */
export const MHLW_ITEM_CODE_SYSTEM = "urn:oid:1.2.392.200119.6.1005";

/** The code of a term of a code item in its code system, when the dictionary carries one. */
export function termCode(item: DictionaryItem, term: string): { system: string; code: string } | undefined {
  if (!item.termCodes || !item.terms) return undefined;
  const i = item.terms.indexOf(term);
  const code = i < 0 ? undefined : item.termCodes.codes[i];
  return code === undefined ? undefined : { system: item.termCodes.system, code };
}

/** Path of the dictionary shipped with the project. */
export const DEFAULT_DICTIONARY_PATH = new URL("../../data/dictionary/kenshin-items.json", import.meta.url);
