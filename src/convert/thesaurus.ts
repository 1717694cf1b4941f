/**
 * The finding thesaurus (所見シソーラス): synonyms, abbreviations and width variants of imaging and
 * physiological findings (ECG, chest X-ray, fundus, abdominal ultrasound, upper GI) mapped to one
 * standard finding term each, plus the phrases that mean "nothing found".
 *
 * The council's thesaurus (650 standard findings, 4,965 synonyms) is not public; we ship a starter
 * file (`data/thesaurus/findings.json`) and load any file of the same shape. Matching is by a
 * normalised key (see `findingMatchKey`) in a Map built once per domain: no RegExp is ever built from
 * thesaurus data or from finding text.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { ConvertError } from "./errors.js";
import type { TextPattern } from "./text-pattern.js";

const phrase = z.string().min(1).max(200);

const domainSchema = z
  .object({
    /** Phrases that mean the exam found nothing (異常なし, WNL …). */
    normal: z.array(phrase).max(1000),
    terms: z.array(z.object({ term: phrase, synonyms: z.array(phrase).max(1000) }).strict()).max(10_000),
  })
  .strict();

export const thesaurusSchema = z
  .object({
    format: z.literal("kenshin-thesaurus"),
    version: z.string().regex(/^\d+\.\d+\.\d+$/),
    name: z.string().min(1),
    domains: z.record(z.string().regex(/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/), domainSchema),
  })
  .strict();

export type ThesaurusFile = z.infer<typeof thesaurusSchema>;

/** What one finding phrase is in a domain. */
export type FindingMatch = { readonly kind: "term"; readonly term: string } | { readonly kind: "normal" };

/** One domain (ecg, chest-xray …) with its look-up built. */
export interface ThesaurusDomain {
  readonly name: string;
  /** Standard terms in file order. */
  readonly terms: readonly string[];
  /** The standard term or normal-ness of one phrase (already split), or undefined when unknown. */
  match(phrase: string): FindingMatch | undefined;
}

/** A loaded, checked thesaurus. */
export interface Thesaurus {
  readonly version: string;
  readonly name: string;
  domain(name: string): ThesaurusDomain | undefined;
  domainNames(): string[];
}

/** Result of mapping one free-text finding field. */
export interface FindingLookup {
  /** Standard terms found, deduplicated, in first-seen order. */
  readonly terms: string[];
  /** Parts matching nothing: NFKC-normalised and trimmed, otherwise as written; deduplicated. */
  readonly unknown: string[];
  /** True when at least one normal phrase was found and nothing else (no terms, no unknown parts). */
  readonly normal: boolean;
}

// Dashes and long-vowel marks people use interchangeably in finding text (ST-T, ST－T, STーT …). After
// NFKC, full-width and half-width forms are already folded to these.
const DASHES = new Set([
  "-",
  "\u2010",
  "\u2011",
  "\u2012",
  "\u2013",
  "\u2014",
  "\u2015",
  "\u2212",
  "\u30fc",
  "\uff70",
]);
const CANONICAL_DASH = "-";

/**
 * The key a phrase is matched by: NFKC, whitespace removed (also inside: "完全 右脚ブロック"), ASCII
 * lower-cased, dash and long-vowel variants unified, a trailing 「。」 dropped. Both the thesaurus
 * entries and the finding text go through this, so a synonym matches however it was padded or widened.
 */
export function findingMatchKey(text: string): string {
  let compact = "";
  for (const ch of text.normalize("NFKC")) if (!isSpace(ch)) compact += ch;
  // NFKC again: a space dropped between a kana and its voicing mark (「ﾌ ﾞ」) lets them compose.
  let key = "";
  for (const ch of compact.normalize("NFKC")) {
    if (DASHES.has(ch)) key += CANONICAL_DASH;
    else if (ch >= "A" && ch <= "Z") key += ch.toLowerCase();
    else key += ch;
  }
  while (key.endsWith("。")) key = key.slice(0, -1);
  return key;
}

function isSpace(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\u3000" || ch === "\u00a0";
}

/**
 * Checks a parsed thesaurus object and builds each domain's look-up. Throws `ConvertError`
 * `THESAURUS_INVALID` on a schema violation, a phrase whose key is empty or that holds a separator, a
 * synonym that leads to two different terms in one domain, or a phrase that is both a finding and a
 * normal phrase.
 */
export function buildThesaurus(json: unknown): Thesaurus {
  const parsed = thesaurusSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new ConvertError(
      "THESAURUS_INVALID",
      `シソーラスの形式が正しくありません: ${first ? `${first.path.join(".")}: ${first.message}` : "不明"}`,
      {
        issues: parsed.error.issues.slice(0, 10).map((i) => ({ path: i.path.join("."), message: i.message })),
      },
    );
  }
  const domains = new Map<string, ThesaurusDomain>();
  for (const [name, domain] of Object.entries(parsed.data.domains)) {
    domains.set(name, buildDomain(name, domain));
  }
  return {
    version: parsed.data.version,
    name: parsed.data.name,
    domain: (name) => domains.get(name),
    domainNames: () => [...domains.keys()],
  };
}

function buildDomain(name: string, domain: z.infer<typeof domainSchema>): ThesaurusDomain {
  const byKey = buildMatchMap(name, domain.terms, domain.normal);
  const terms = domain.terms.map((t) => t.term);
  return { name, terms, match: (phrase) => byKey.get(findingMatchKey(phrase)) };
}

/**
 * The key → match map of one domain's entries. Throws THESAURUS_INVALID for an empty phrase, one that
 * holds a separator, a phrase leading to two terms, or one that is both a finding and normal.
 */
function buildMatchMap(
  name: string,
  entries: readonly { readonly term: string; readonly synonyms: readonly string[] }[],
  normalPhrases: readonly string[],
): Map<string, FindingMatch> {
  const invalid = (what: string, context: Record<string, unknown>): ConvertError =>
    new ConvertError("THESAURUS_INVALID", `シソーラスの分野 ${name} が不正です: ${what}`, {
      domain: name,
      ...context,
    });
  const byKey = new Map<string, FindingMatch>();
  const keyOf = (text: string): string => {
    const key = findingMatchKey(text);
    if (key === "") throw invalid(`空白だけの語があります`, { phrase: text });
    // A phrase that finding text would be split inside (「C/D比」) could never match: refuse it.
    if (splitFindings(text.normalize("NFKC")).length !== 1) {
      throw invalid(`「${text}」は区切り文字を含むため照合できません`, { phrase: text });
    }
    return key;
  };

  const terms = new Set<string>();
  for (const entry of entries) {
    if (terms.has(entry.term)) throw invalid(`標準用語「${entry.term}」が2回あります`, { term: entry.term });
    terms.add(entry.term);
    const found: FindingMatch = { kind: "term", term: entry.term };
    for (const text of [entry.term, ...entry.synonyms]) {
      const key = keyOf(text);
      const earlier = byKey.get(key);
      if (earlier !== undefined && !(earlier.kind === "term" && earlier.term === entry.term)) {
        const other = earlier.kind === "term" ? earlier.term : "(正常)";
        throw invalid(`「${text}」が「${entry.term}」と「${other}」の両方を指します`, {
          phrase: text,
          terms: [entry.term, other],
        });
      }
      byKey.set(key, found);
    }
  }
  const normal: FindingMatch = { kind: "normal" };
  for (const text of normalPhrases) {
    const key = keyOf(text);
    const earlier = byKey.get(key);
    if (earlier?.kind === "term") {
      throw invalid(`「${text}」が正常の語と「${earlier.term}」の両方にあります`, {
        phrase: text,
        term: earlier.term,
      });
    }
    byKey.set(key, normal);
  }
  return byKey;
}

/** An institution's own vocabulary for one domain (from its mapping file). */
export interface DomainExtension {
  readonly synonyms: Readonly<Record<string, readonly string[]>>;
  readonly normal: readonly string[];
  readonly patterns: readonly { readonly pattern: TextPattern; readonly match: FindingMatch }[];
}

/**
 * A domain that consults the institution's vocabulary first (exact phrases, then the shipped
 * thesaurus, then the institution's patterns). `base` may be undefined for a domain of its own.
 * Throws THESAURUS_INVALID when the extension contradicts itself.
 */
export function extendDomain(
  name: string,
  base: ThesaurusDomain | undefined,
  ext: DomainExtension,
): ThesaurusDomain {
  const entries = Object.entries(ext.synonyms).map(([term, synonyms]) => ({ term, synonyms }));
  const own = buildMatchMap(name, entries, ext.normal);
  const terms = [...(base?.terms ?? [])];
  for (const e of entries) if (!terms.includes(e.term)) terms.push(e.term);
  return {
    name,
    terms,
    match(phrase) {
      const key = findingMatchKey(phrase);
      const found = own.get(key) ?? base?.match(phrase);
      if (found !== undefined) return found;
      for (const p of ext.patterns) if (p.pattern.matches(key)) return p.match;
      return undefined;
    },
  };
}

/** Reads and checks a thesaurus JSON file. Unreadable or non-JSON files are `THESAURUS_INVALID` too. */
export async function loadThesaurus(path: string | URL): Promise<Thesaurus> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, "utf8"));
  } catch (cause) {
    throw new ConvertError(
      "THESAURUS_INVALID",
      `シソーラスファイルを読めません (JSON ではないか、開けません): ${String(path)}`,
      { path: String(path) },
      { cause },
    );
  }
  return buildThesaurus(json);
}

/** Path of the thesaurus shipped with the project. */
export const DEFAULT_THESAURUS_PATH = new URL("../../data/thesaurus/findings.json", import.meta.url);

// Separators between findings in one free-text field. 「・」 and single spaces are NOT separators:
// they occur inside findings ("ST・T変化", "右肺上葉 結節影").
const SEPARATORS = new Set([
  "、",
  "\uff64", // half-width ideographic comma
  ",",
  "，",
  ";",
  "；",
  "/",
  "／",
  "\r",
  "\n",
]);

/** Splits a finding field into parts: on the separators above and on runs of two or more spaces. */
export function splitFindings(text: string): string[] {
  const parts: string[] = [];
  let current = "";
  let spaces = "";
  const flush = (): void => {
    if (current.trim() !== "") parts.push(current);
    current = "";
    spaces = "";
  };
  for (const ch of text) {
    if (SEPARATORS.has(ch)) {
      flush();
    } else if (isSpace(ch)) {
      spaces += ch;
    } else {
      if (spaces.length >= 2) flush();
      else current += spaces;
      spaces = "";
      current += ch;
    }
  }
  flush();
  return parts;
}

/**
 * Maps a free-text finding field to standard terms. Each part (see `splitFindings`) that is a term or
 * synonym yields its standard term; a normal phrase counts toward `normal`; anything else is returned
 * in `unknown` for the engine to report (VALUE_THESAURUS_UNKNOWN) and keep as written. Never throws.
 *
 * A parenthetical note belongs to the finding before it: a part that is only a note (「(前回と変化
 * なし)」 on a second line) is joined to the previous part, and a part that does not match as a whole
 * is matched without its trailing note (「洞性徐脈（経過観察）」 → 洞性徐脈). The note stays in the
 * original value, which the engine keeps whenever the standard value differs from the source text.
 */
export function lookupFindings(domain: ThesaurusDomain, text: string): FindingLookup {
  // Sets keep this linear on hostile input (a 10 MB field of distinct parts).
  const terms = new Set<string>();
  const unknown = new Set<string>();
  let normals = 0;
  // NFKC first, so full-width separators (，；／ and the ideographic space) split like their ASCII forms.
  for (const part of attachNotes(splitFindings(text.normalize("NFKC")))) {
    const found = domain.match(part) ?? matchWithoutNote(domain, part);
    if (found === undefined) unknown.add(part.trim());
    else if (found.kind === "normal") normals++;
    else terms.add(found.term);
  }
  return {
    terms: [...terms],
    unknown: [...unknown],
    normal: normals > 0 && terms.size === 0 && unknown.size === 0,
  };
}

/** True for a part that is one parenthetical note, e.g. 「(前回と変化なし)」 (after NFKC). */
function isNote(part: string): boolean {
  const t = part.trim();
  return t.length >= 2 && t.startsWith("(") && t.endsWith(")");
}

function attachNotes(parts: readonly string[]): string[] {
  const out: string[] = [];
  for (const part of parts) {
    const last = out.length - 1;
    if (last >= 0 && isNote(part)) out[last] = `${out[last] ?? ""}${part.trim()}`;
    else out.push(part);
  }
  return out;
}

function matchWithoutNote(domain: ThesaurusDomain, part: string): FindingMatch | undefined {
  const t = part.trim();
  if (!t.endsWith(")")) return undefined;
  const open = t.lastIndexOf("(");
  if (open <= 0) return undefined;
  return domain.match(t.slice(0, open));
}
