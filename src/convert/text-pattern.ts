/**
 * Text patterns from mapping files: `*` matches any run of characters (also none), `?` one character,
 * everything else is literal. No RegExp is ever built from a mapping: the matcher below is the
 * classic two-pointer wildcard match, whose work is bounded by pattern length × text length, and both
 * are bounded (PATTERN_MAX_LENGTH, PATTERN_MAX_SUBJECT); longer text simply does not match.
 *
 * Patterns and text are compared by a caller-supplied key (the thesaurus match key, or half-width
 * folding with optional case folding for codes), so a pattern is written as people see the text.
 */
import { ConvertError } from "./errors.js";

export const PATTERN_MAX_LENGTH = 100;
/** At most this many wildcards per pattern. */
export const PATTERN_MAX_WILDCARDS = 8;
/** Text longer than this (in UTF-16 units, after keying) never matches a pattern. */
export const PATTERN_MAX_SUBJECT = 4096;

export interface TextPattern {
  readonly source: string;
  /** Keyed pattern as code points; "*" and "?" are the wildcards. */
  readonly chars: readonly string[];
  matches(keyedText: string): boolean;
}

/**
 * Compiles one pattern. `key` normalises the literal parts the same way the text will be normalised
 * (wildcards are kept out of it). Throws MAP_INVALID_RULE for an empty pattern, one over the length or
 * wildcard bounds, or one made of wildcards only (it would match everything: use `otherwise`).
 */
export function compilePattern(source: string, key: (text: string) => string, where: string): TextPattern {
  const fail = (what: string): never => {
    throw new ConvertError("MAP_INVALID_RULE", `マッピングの規則が正しくありません (${where}): ${what}`, {
      where,
      pattern: source,
    });
  };
  if (source.length === 0 || source.length > PATTERN_MAX_LENGTH) {
    fail(`パターンは 1〜${PATTERN_MAX_LENGTH} 文字にしてください`);
  }
  const chars: string[] = [];
  let literal = "";
  let wildcards = 0;
  let literals = 0;
  const flushLiteral = (): void => {
    if (literal === "") return;
    for (const ch of key(literal)) {
      chars.push(ch);
      literals++;
    }
    literal = "";
  };
  for (const ch of source) {
    if (ch === "*" || ch === "?") {
      flushLiteral();
      wildcards++;
      // "**" is the same as "*": keep one.
      if (!(ch === "*" && chars[chars.length - 1] === "*")) chars.push(ch);
    } else {
      literal += ch;
    }
  }
  flushLiteral();
  if (wildcards > PATTERN_MAX_WILDCARDS)
    fail(`ワイルドカード (* と ?) は ${PATTERN_MAX_WILDCARDS} 個までです`);
  if (literals === 0) fail("文字を含まないパターンはすべてに一致します (otherwise を使ってください)");
  return { source, chars, matches: (text) => wildcardMatch(chars, text) };
}

/** Two-pointer wildcard match over code points; O(|pattern| × |text|) in the worst case. */
export function wildcardMatch(pattern: readonly string[], text: string): boolean {
  if (text.length > PATTERN_MAX_SUBJECT) return false;
  // Code points (not UTF-16 units), so "?" is one character even outside the BMP (𠮷).
  const t = Array.from(text);
  let p = 0;
  let i = 0;
  let star = -1;
  let mark = 0;
  while (i < t.length) {
    const pc = pattern[p];
    if (pc !== undefined && pc !== "*" && (pc === "?" || pc === t[i])) {
      p++;
      i++;
    } else if (pc === "*") {
      star = p++;
      mark = i;
    } else if (star >= 0) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}
