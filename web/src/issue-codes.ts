/**
 * The conversion's issue codes (src/convert/issues.ts) in words a clerk reads: a short name and what to
 * do about it, in Japanese and English. The code itself stays visible next to the name, for the office.
 */
import type { IssueCode } from "../../src/convert/issues.js";
import type { Lang } from "./i18n.js";

type Words = readonly [ja: string, en: string];

interface CodeText {
  readonly name: Words;
  readonly advice: Words;
}

const FIX_SOURCE: Words = [
  "健診システムで該当する行の値を直し、もう一度出力してください。",
  "Correct the value of this row in your checkup system and export again.",
];
const ASK_OFFICE: Words = [
  "健診システムの出力が変わった可能性があります。事務局にマッピングの確認を依頼してください。",
  "Your export may have changed. Ask the office to check your mapping.",
];
const CHECK_ONLY: Words = [
  "記録は送信されます。内容を確かめ、必要なら元のデータを直してください。",
  "The record is sent. Check it and correct the source data if needed.",
];

const CODES: Readonly<Record<IssueCode, CodeText>> = {
  SOURCE_UNBALANCED_QUOTE: {
    name: ['引用符 (") の対応が取れていません', "Unbalanced quote"],
    advice: [
      '値の中の「"」を確かめてください。Excel で編集すると崩れることがあります。',
      "Check the quotes in the values; editing in Excel can break them.",
    ],
  },
  SOURCE_FIELD_TOO_LARGE: { name: ["値が長すぎます", "Field too large"], advice: FIX_SOURCE },
  SOURCE_RAGGED_ROW: {
    name: ["列の数が見出し行と合いません", "Wrong number of columns"],
    advice: [
      "区切りの「,」が多すぎるか少なすぎます。値の中の「,」や改行を確かめてください。",
      "Too many or too few commas: check commas and line breaks inside values.",
    ],
  },
  SOURCE_TOO_MANY_COLUMNS: { name: ["列が多すぎます", "Too many columns"], advice: ASK_OFFICE },
  SOURCE_DECODE_ERROR: {
    name: ["文字コードが読めません", "Cannot decode characters"],
    advice: [
      "ファイルの文字コード (Shift_JIS など) が決められたものか確かめてください。",
      "Check the file's character encoding (e.g. Shift_JIS) is the agreed one.",
    ],
  },
  SOURCE_COLUMN_UNMAPPED: {
    name: ["マッピングで使われていない列", "Column not used by the mapping"],
    advice: [
      "この列は出力に含まれません。必要な列なら事務局にマッピングへの追加を依頼してください。",
      "This column is not in the output. If it is needed, ask the office to add it to the mapping.",
    ],
  },
  SOURCE_PRIVATE_USE_CHAR: {
    name: ["外字 (利用者定義文字) があります", "User-defined character"],
    advice: [
      "外字は「〓」に置き換えました。健診システムで通常の文字に直してください。",
      "User-defined characters were replaced by 〓. Use standard characters in your checkup system.",
    ],
  },
  VALUE_ORIGINAL_TRUNCATED: { name: ["原本値を上限で切りました", "Original value cut"], advice: CHECK_ONLY },
  RECORD_DUPLICATE_KEY: {
    name: ["同じ受診者・実施日の記録が重複しています", "Duplicate examinee and visit"],
    advice: [
      "同じ受診が2回出力されていないか確かめてください。まとめる場合は事務局に相談してください。",
      "Check the same visit was not exported twice; ask the office if records should be merged.",
    ],
  },
  RECORD_DUPLICATE_CONFLICT: {
    name: ["重複した記録の値が食い違います", "Duplicate records disagree"],
    advice: FIX_SOURCE,
  },
  SOURCE_EMPTY_ROW: { name: ["空の行", "Empty row"], advice: CHECK_ONLY },
  VALUE_NUMBER_INVALID: { name: ["数値ではありません", "Not a number"], advice: FIX_SOURCE },
  VALUE_OUT_OF_RANGE: { name: ["値が範囲外です", "Value out of range"], advice: FIX_SOURCE },
  VALUE_ROUNDED: { name: ["値を丸めました", "Value rounded"], advice: CHECK_ONLY },
  VALUE_DATE_INVALID: {
    name: ["日付が正しくありません", "Invalid date"],
    advice: [
      "「2026/06/03」や「R8.6.3」のような正しい日付か確かめてください。",
      "Check it is a real date such as 2026/06/03 or R8.6.3.",
    ],
  },
  VALUE_DATE_ERA_OVERFLOW: {
    name: ["和暦の年が元号の範囲を超えています", "Era year out of range"],
    advice: FIX_SOURCE,
  },
  VALUE_CODE_UNKNOWN: { name: ["知らないコードです", "Unknown code"], advice: ASK_OFFICE },
  VALUE_TERM_NOT_ALLOWED: { name: ["使えない用語です", "Term not allowed"], advice: ASK_OFFICE },
  VALUE_TOO_LONG: {
    name: ["文字数 (バイト数) が上限を超えています", "Too long"],
    advice: [
      "所見などの文章を短くしてください (標準フォーマットの上限はバイト数で決まっています)。",
      "Shorten the text: the standard limits each item in bytes.",
    ],
  },
  VALUE_NOT_ENCODABLE: {
    name: ["使えない文字が含まれています", "Character not allowed"],
    advice: [
      "機種依存文字や外字を、普通の文字に置き換えてください。",
      "Replace vendor-specific or private characters with ordinary ones.",
    ],
  },
  VALUE_MULTIPLE_NOT_ALLOWED: {
    name: ["複数の値は入れられません", "Only one value allowed"],
    advice: FIX_SOURCE,
  },
  VALUE_UNIT_MISMATCH: { name: ["単位が合いません", "Unit mismatch"], advice: ASK_OFFICE },
  VALUE_FORMULA_NEUTRALISED: {
    name: ["数式とみなされる値を無害化しました", "Formula neutralised"],
    advice: CHECK_ONLY,
  },
  VALUE_THESAURUS_UNKNOWN: {
    name: ["所見の言葉が辞書にありません", "Finding not in the thesaurus"],
    advice: CHECK_ONLY,
  },
  RECORD_KEY_MISSING: {
    name: ["受診者や受診日を特定する値がありません", "Key value missing"],
    advice: [
      "この行の受診日・受診券番号などが空です。健診システムで入力してから出力し直してください。",
      "The exam date, ticket number or similar is empty in this row: fill it in and export again.",
    ],
  },
  RECORD_DUPLICATE_ITEM: { name: ["同じ項目が2回あります", "Item given twice"], advice: FIX_SOURCE },
  RECORD_EMPTY: { name: ["結果が1つもない行です", "No results in this row"], advice: CHECK_ONLY },
  RECORD_UNSORTED: {
    name: ["行の並びが受診ごとになっていません", "Rows not grouped by visit"],
    advice: ASK_OFFICE,
  },
  RECORD_REQUIRED_MISSING: { name: ["必須の項目がありません", "Required item missing"], advice: FIX_SOURCE },
  COMPUTE_INPUT_MISSING: {
    name: ["計算に必要な値がありません", "Input for a computed item missing"],
    advice: CHECK_ONLY,
  },
  COMPUTE_INPUT_INVALID: {
    name: ["計算に使えない値です", "Input for a computed item unusable"],
    advice: CHECK_ONLY,
  },
  CHECK_BMI_MISMATCH: {
    name: ["BMI が身長・体重と合いません", "BMI does not match height and weight"],
    advice: CHECK_ONLY,
  },
  CHECK_BP_SYSTOLIC_BELOW_DIASTOLIC: {
    name: ["最高血圧が最低血圧より低くなっています", "Systolic below diastolic"],
    advice: CHECK_ONLY,
  },
  CHECK_FINDING_PRESENCE_MISMATCH: {
    name: ["所見の有無と所見の内容が合いません", "Finding presence mismatch"],
    advice: CHECK_ONLY,
  },
  CHECK_LONG_ITEM_UNMAPPED: {
    name: ["対応付けのない検査項目です", "Test item not mapped"],
    advice: ASK_OFFICE,
  },
};

function pick(w: Words, lang: Lang): string {
  return lang === "ja" ? w[0] : w[1];
}

/** The short name of an issue code (the code itself for a code this UI does not know yet). */
export function issueName(code: string, lang: Lang): string {
  const c = (CODES as Readonly<Record<string, CodeText>>)[code];
  return c ? pick(c.name, lang) : code;
}

/** What to do about it, or "" for an unknown code. */
export function issueAdvice(code: string, lang: Lang): string {
  const c = (CODES as Readonly<Record<string, CodeText>>)[code];
  return c ? pick(c.advice, lang) : "";
}
