/**
 * A proposed code table for a code item from the distinct values a column holds: values that are the
 * standard term already, dipstick spellings, sex codes, the MHLW 1/2/3… codings of 特定健診 answers
 * (in the dictionary's term order, which follows the MHLW code list), the 日本人間ドック学会 judgement
 * letters. Whatever matches none of these is returned as unplaced, for a person to decide.
 */
import type { DictionaryItem } from "../../format/dictionary.js";
import { toHalfWidth } from "../width.js";

export interface CodeProposal {
  readonly table: Record<string, string>;
  readonly unplaced: readonly string[];
  /** How the table was built (for the draft's comment). */
  readonly basis: readonly string[];
}

const DIPSTICK = ["－", "±", "＋", "２＋", "３＋"];
const DIPSTICK_SPELLINGS: Readonly<Record<string, string>> = {
  "-": "－",
  "−": "－",
  "+-": "±",
  "±": "±",
  "+": "＋",
  "1+": "＋",
  "++": "２＋",
  "2+": "２＋",
  "+++": "３＋",
  "3+": "３＋",
};
const SEX: Readonly<Record<string, string>> = {
  "1": "男性",
  m: "男性",
  male: "男性",
  男: "男性",
  "2": "女性",
  f: "女性",
  female: "女性",
  女: "女性",
};
const JUDGEMENT: Readonly<Record<string, string>> = {
  a: "異常なし",
  b: "軽度異常",
  c: "要再検査・生活改善",
  d1: "要治療",
  d2: "要精密検査",
  e: "治療中",
};
const YES_NO: Readonly<Record<string, string>> = { "1": "はい", "2": "いいえ", y: "はい", n: "いいえ" };
const PRESENT_ABSENT: Readonly<Record<string, string>> = {
  "1": "特記すべきことあり",
  "2": "特記すべきことなし",
  有: "特記すべきことあり",
  無: "特記すべきことなし",
  あり: "特記すべきことあり",
  なし: "特記すべきことなし",
};

function hasAll(item: DictionaryItem, terms: readonly string[]): boolean {
  return terms.every((t) => item.terms?.includes(t));
}

/** True for an MHLW 特定健診 coded (CD) item: its JLAC10-style code ends in …11. */
function isMhlwCoded(item: DictionaryItem): boolean {
  return item.jlac10 !== undefined && item.jlac10.startsWith("9N") && item.jlac10.endsWith("11");
}

export function proposeCodes(item: DictionaryItem, values: readonly string[]): CodeProposal {
  const table: Record<string, string> = {};
  const unplaced: string[] = [];
  const basis = new Set<string>();
  const terms = item.terms ?? [];
  for (const value of values) {
    const h = toHalfWidth(value.trim());
    const folded = h.toLowerCase().replace(/^\((.*)\)$/, "$1");
    let term: string | undefined;
    const asTerm = terms.find((t) => t.normalize("NFKC") === value.normalize("NFKC"));
    if (asTerm !== undefined) {
      term = asTerm;
      basis.add("標準用語そのもの");
    } else if (hasAll(item, DIPSTICK) && DIPSTICK_SPELLINGS[folded] !== undefined) {
      term = DIPSTICK_SPELLINGS[folded];
      basis.add("試験紙の表記 (－ ± ＋ ２＋ ３＋)");
    } else if (hasAll(item, ["男性", "女性"]) && SEX[folded] !== undefined) {
      term = SEX[folded];
      basis.add("性別コード (1/M = 男性, 2/F = 女性)");
    } else if (hasAll(item, ["異常なし", "軽度異常", "要治療"]) && JUDGEMENT[folded] !== undefined) {
      term = JUDGEMENT[folded];
      basis.add("判定区分 A〜E (日本人間ドック学会)");
    } else if (
      hasAll(item, ["特記すべきことあり", "特記すべきことなし"]) &&
      PRESENT_ABSENT[folded] !== undefined
    ) {
      term = PRESENT_ABSENT[folded];
      basis.add("特定健診のコード (1 = あり, 2 = なし)");
    } else if (hasAll(item, ["はい", "いいえ"]) && YES_NO[folded] !== undefined) {
      term = YES_NO[folded];
      basis.add("特定健診のコード (1 = はい, 2 = いいえ)");
    } else if (isMhlwCoded(item) && /^[1-9]$/.test(folded) && terms[Number(folded) - 1] !== undefined) {
      term = terms[Number(folded) - 1];
      basis.add("特定健診のコード (1, 2, 3 … = 選択肢の順)");
    }
    if (term === undefined) unplaced.push(value);
    else table[value] = term;
  }
  return { table, unplaced, basis: [...basis] };
}
