/**
 * Character-width normalisation for values read from institutions' exports.
 *
 * Japanese checkup systems mix full-width digits and letters (「１２３」「ＡＢＣ」) with half-width
 * katakana (「ｶﾞﾝ」), so the same value reaches us in several spellings. We fold exactly those two
 * families and nothing else:
 *
 * - full-width ASCII (U+FF01–U+FF5E) → ASCII, and the ideographic space U+3000 → U+0020;
 * - half-width katakana (U+FF61–U+FF9F) → full-width katakana, composing a following ﾞ/ﾟ into the
 *   voiced / semi-voiced letter (ｶﾞ → ガ, ﾊﾟ → パ), as JIS X 0201 text is meant to be read.
 *
 * Not NFKC: NFKC would also rewrite ①→1, ㎎→mg, ㍻→平成, ™→TM and many compatibility kanji, which changes
 * the meaning or the byte length of finding text and coded terms. Minus-like characters are left alone
 * here; number parsing decides what counts as a sign in numeric context.
 */

/** Full-width forms of U+FF61…U+FF9F in code-point order (the JIS X 0201 katakana block). */
const KATAKANA_FULL =
  "。「」、・ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン゛゜";

const HALF_KANA_FIRST = 0xff61;
const HALF_KANA_LAST = 0xff9f;
const HALF_DAKUTEN = 0xff9e;
const HALF_HANDAKUTEN = 0xff9f;

/**
 * The composed letter for half-width `base` followed by half-width `mark` (ﾞ or ﾟ), or 0 when the pair
 * does not compose (then the mark is kept as the spacing ゛/゜, never as a combining mark that would
 * silently attach to the preceding letter).
 */
function composeKana(base: number, mark: number): number {
  if (mark === HALF_DAKUTEN) {
    // ｶ…ﾄ and ﾊ…ﾎ: the voiced letter directly follows the plain one in the full-width block.
    if ((base >= 0xff76 && base <= 0xff84) || (base >= 0xff8a && base <= 0xff8e)) {
      return KATAKANA_FULL.charCodeAt(base - HALF_KANA_FIRST) + 1;
    }
    if (base === 0xff73) return 0x30f4; // ｳﾞ → ヴ
    if (base === 0xff9c) return 0x30f7; // ﾜﾞ → ヷ
    if (base === 0xff66) return 0x30fa; // ｦﾞ → ヺ
    return 0;
  }
  if (mark === HALF_HANDAKUTEN && base >= 0xff8a && base <= 0xff8e) {
    return KATAKANA_FULL.charCodeAt(base - HALF_KANA_FIRST) + 2; // ﾊﾟ → パ
  }
  return 0;
}

function isFolded(c: number): boolean {
  return (c >= 0xff01 && c <= 0xff5e) || c === 0x3000 || (c >= HALF_KANA_FIRST && c <= HALF_KANA_LAST);
}

/**
 * Folds full-width ASCII and the ideographic space to ASCII, and half-width katakana to full-width
 * katakana (with ﾞ/ﾟ composition). Everything else (kanji, ー, ・, ①, ㎎, emoji) is returned as is.
 *
 * Guarantees, relied on by callers and checked by property tests: idempotent; ASCII input is returned
 * unchanged; the result is never longer (in UTF-16 code units) than the input.
 *
 * Hot path: a string with nothing to fold is returned without allocating.
 */
export function toHalfWidth(text: string): string {
  const n = text.length;
  let first = 0;
  while (first < n && !isFolded(text.charCodeAt(first))) first++;
  if (first === n) return text;

  let out = "";
  let copyFrom = 0;
  for (let i = first; i < n; i++) {
    const c = text.charCodeAt(i);
    let mapped: number;
    let consumed = 1;
    if (c >= 0xff01 && c <= 0xff5e) {
      mapped = c - 0xfee0; // the full-width ASCII block is ASCII shifted by 0xFEE0
    } else if (c === 0x3000) {
      mapped = 0x20;
    } else if (c >= HALF_KANA_FIRST && c <= HALF_KANA_LAST) {
      const composed = i + 1 < n ? composeKana(c, text.charCodeAt(i + 1)) : 0;
      if (composed === 0) {
        mapped = KATAKANA_FULL.charCodeAt(c - HALF_KANA_FIRST);
      } else {
        mapped = composed;
        consumed = 2;
      }
    } else {
      continue;
    }
    out += text.slice(copyFrom, i) + String.fromCharCode(mapped);
    i += consumed - 1;
    copyFrom = i + 1;
  }
  return out + text.slice(copyFrom);
}
