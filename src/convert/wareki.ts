/**
 * Dates as Japanese checkup systems write them → the Gregorian `YYYYMMDD` the standard record uses
 * (the MHLW 特定健診 CDA also carries `effectiveTime value="YYYYMMDD"`).
 *
 * Era table (standard-format-facts.md §3, the FHIR JP eCheckup IG's 和暦 CodeSystem, with the IG's typo for
 * 平成's end corrected): 明治 1868-09-08, 大正 1912-07-30, 昭和 1926-12-25, 平成 1989-01-08, 令和 2019-05-01.
 * Each era ends the day before the next one starts.
 *
 * Decisions, with reasons:
 * - 明治 starts on 1868-09-08 as in the table, not on 1868-01-25 (the retroactive 慶応4年1月1日), so
 *   "a 和暦 date before its era starts is invalid" holds for every era alike. Dates are read on the
 *   proleptic Gregorian calendar (明治N年 = 1867+N) as ICU and the IG do: Japan kept the lunar calendar
 *   until 明治5年, but nobody with a checkup record was born then.
 * - A date after its era ended (平成31年5月1日, 昭和64年1月8日, 平成32年…) is the Gregorian date it denotes,
 *   with a VALUE_DATE_ERA_OVERFLOW warning: real systems print these around a change of era.
 * - The canonical 和暦 form written by {@link toWareki} is 「令和元年5月1日」: 元年 is how official
 *   documents write the first year, and the parser accepts both 元年 and 1年.
 * - Besides the era names, letters M/T/S/H/R and the era digits 1–5 (1=明治 … 5=令和, followed by YYMMDD,
 *   as Japanese 健診 systems and レセプト files store them), the single-kanji abbreviations 明/大/昭/平/令
 *   and the square era signs ㍾㍽㍼㍻㋿ are accepted: they are unambiguous and appear in real exports.
 */

import type { TransformResult } from "./issues.js";
import { toHalfWidth } from "./width.js";

interface Era {
  readonly name: string;
  /** First day as a YYYYMMDD number (so date comparisons are integer comparisons). */
  readonly start: number;
}

const ERAS: readonly Era[] = [
  { name: "明治", start: 18680908 },
  { name: "大正", start: 19120730 },
  { name: "昭和", start: 19261225 },
  { name: "平成", start: 19890108 },
  { name: "令和", start: 20190501 },
];

/** Inputs longer than this are not dates; rejecting them early bounds the work on hostile cells. */
const MAX_DATE_LENGTH = 40;

// Module-level patterns: compiled once. `\d` without the `u` flag is ASCII only, which is what we want
// after toHalfWidth. Separators must repeat (2024/4-1 is rejected as a likely column mix-up).
const WEST_COMPACT = /^(\d{4})(\d{2})(\d{2})$/;
const WEST_SEPARATED = /^(\d{4})([./-])(\d{1,2})\2(\d{1,2})$/;
const WEST_KANJI = /^(\d{4}) *年 *(\d{1,2}) *月 *(\d{1,2}) *日?$/;
const ERA_DIGIT = /^([1-5])(\d{2})(\d{2})(\d{2})$/;
const ERA_COMPACT = /^(\d{2})(\d{2})(\d{2})$/;
const ERA_SEPARATED = /^(元|\d{1,2})([./-])(\d{1,2})\2(\d{1,2})$/;
const ERA_KANJI = /^(元|\d{1,2}) *年 *(\d{1,2}) *月 *(\d{1,2}) *日?$/;

const MSG_FORMAT = "日付の形式を認識できません";
const MSG_CALENDAR = "暦に存在しない日付です";
const MSG_BEFORE_ERA = "和暦の日付が元号の開始日より前です";
const MSG_ERA_YEAR_ZERO = "和暦の年が0です";
const MSG_ERA_OVERFLOW = "和暦の日付が元号の終了後です（改元後の西暦日付として変換しました）";

/** Era index for a one-character era marker (M/T/S/H/R either case, ㍾…㋿, 明/大/昭/平/令), else -1. */
function eraOfMarker(c: number): number {
  switch (c) {
    case 0x4d: // M
    case 0x6d: // m
    case 0x337e: // ㍾
    case 0x660e: // 明
      return 0;
    case 0x54: // T
    case 0x74: // t
    case 0x337d: // ㍽
    case 0x5927: // 大
      return 1;
    case 0x53: // S
    case 0x73: // s
    case 0x337c: // ㍼
    case 0x662d: // 昭
      return 2;
    case 0x48: // H
    case 0x68: // h
    case 0x337b: // ㍻
    case 0x5e73: // 平
      return 3;
    case 0x52: // R
    case 0x72: // r
    case 0x32ff: // ㋿
    case 0x4ee4: // 令
      return 4;
    default:
      return -1;
  }
}

/**
 * Finds an era marker at the start of `s`. Returns `eraIndex * 4 + markerLength`, or -1: one integer
 * instead of an object keeps this allocation-free on the hot path.
 */
function matchEraPrefix(s: string): number {
  for (let e = 0; e < ERAS.length; e++) {
    if (s.startsWith((ERAS[e] as Era).name)) return e * 4 + 2;
  }
  const e = eraOfMarker(s.charCodeAt(0));
  return e < 0 ? -1 : e * 4 + 1;
}

/** Days in month `m` (1–12) of proleptic Gregorian year `y`. */
function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

function isRealDate(y: number, m: number, d: number): boolean {
  return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

function formatYmd(y: number, m: number, d: number): string {
  return String(y * 10000 + m * 100 + d).padStart(8, "0");
}

function invalid(message: string): TransformResult<string> {
  return { ok: false, code: "VALUE_DATE_INVALID", message };
}

function fromWestern(y: number, m: number, d: number): TransformResult<string> {
  return isRealDate(y, m, d) ? { ok: true, value: formatYmd(y, m, d) } : invalid(MSG_CALENDAR);
}

function fromEra(eraIndex: number, eraYear: number, m: number, d: number): TransformResult<string> {
  const era = ERAS[eraIndex];
  if (era === undefined) return invalid(MSG_FORMAT);
  if (eraYear === 0) return invalid(MSG_ERA_YEAR_ZERO);
  const y = Math.floor(era.start / 10000) - 1 + eraYear;
  if (!isRealDate(y, m, d)) return invalid(MSG_CALENDAR);
  const ymd = y * 10000 + m * 100 + d;
  if (ymd < era.start) return invalid(MSG_BEFORE_ERA);
  const next = ERAS[eraIndex + 1];
  const value = formatYmd(y, m, d);
  if (next !== undefined && ymd >= next.start) {
    return { ok: true, value, warning: { code: "VALUE_DATE_ERA_OVERFLOW", message: MSG_ERA_OVERFLOW } };
  }
  return { ok: true, value };
}

function eraYearOf(token: string | undefined): number {
  return token === "元" ? 1 : Number(token);
}

/**
 * Parses a date cell into Gregorian `YYYYMMDD`.
 *
 * Accepted after {@link toHalfWidth} and trimming:
 * - 和暦: era (明治…令和, 明…令, M/T/S/H/R in either case, ㍾…㋿) then year (1–2 digits or 元), month, day,
 *   separated by `.` `/` `-` (the same one twice) or 年・月・日 (日 optional), or with no separator as
 *   YYMMDD (`S450305`);
 * - the era-digit form `GYYMMDD` (`3450305` = 昭和45年3月5日);
 * - 西暦: `YYYYMMDD`, `YYYY/M/D`, `YYYY.M.D`, `YYYY-MM-DD`, `YYYY年M月D日`.
 *
 * Failures are VALUE_DATE_INVALID (unknown shape, impossible calendar date, 和暦 before its era began,
 * year 0); a 和暦 date after its era ended succeeds with a VALUE_DATE_ERA_OVERFLOW warning.
 * Never throws; messages never repeat the input.
 */
export function parseJapaneseDate(text: string): TransformResult<string> {
  if (text.length > MAX_DATE_LENGTH * 2) return invalid(MSG_FORMAT);
  const s = toHalfWidth(text).trim();
  if (s.length === 0 || s.length > MAX_DATE_LENGTH) return invalid(MSG_FORMAT);

  const first = s.charCodeAt(0);
  if (first >= 0x30 && first <= 0x39) {
    let m = WEST_COMPACT.exec(s);
    if (m !== null) return fromWestern(Number(m[1]), Number(m[2]), Number(m[3]));
    m = WEST_SEPARATED.exec(s);
    if (m !== null) return fromWestern(Number(m[1]), Number(m[3]), Number(m[4]));
    m = WEST_KANJI.exec(s);
    if (m !== null) return fromWestern(Number(m[1]), Number(m[2]), Number(m[3]));
    m = ERA_DIGIT.exec(s);
    if (m !== null) return fromEra(Number(m[1]) - 1, Number(m[2]), Number(m[3]), Number(m[4]));
    return invalid(MSG_FORMAT);
  }

  const packed = matchEraPrefix(s);
  if (packed < 0) return invalid(MSG_FORMAT);
  const eraIndex = packed >> 2;
  const body = s.slice(packed & 3).trimStart();
  let m = ERA_COMPACT.exec(body);
  if (m !== null) return fromEra(eraIndex, Number(m[1]), Number(m[2]), Number(m[3]));
  m = ERA_SEPARATED.exec(body);
  if (m !== null) return fromEra(eraIndex, eraYearOf(m[1]), Number(m[3]), Number(m[4]));
  m = ERA_KANJI.exec(body);
  if (m !== null) return fromEra(eraIndex, eraYearOf(m[1]), Number(m[2]), Number(m[3]));
  return invalid(MSG_FORMAT);
}

/**
 * True when `yyyymmdd` is exactly eight ASCII digits naming a real proleptic Gregorian date in years
 * 0001–9999 (leap years per the Gregorian rule). "00000000", a common "no date" filler, is false.
 */
export function isValidYmd(yyyymmdd: string): boolean {
  if (yyyymmdd.length !== 8) return false;
  for (let i = 0; i < 8; i++) {
    const c = yyyymmdd.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  const n = Number(yyyymmdd);
  return isRealDate(Math.floor(n / 10000), Math.floor(n / 100) % 100, n % 100);
}

/**
 * Renders a Gregorian `YYYYMMDD` as the canonical 和暦 「令和元年5月1日」 (era name, 元年 for the first
 * year, no zero padding). The result parses back to the same date without a warning.
 *
 * @throws RangeError when `yyyymmdd` is not a valid date on or after 1868-09-08 (明治 start): callers pass
 *   dates that have already been validated, so this is a programming error, not a row issue.
 */
export function toWareki(yyyymmdd: string): string {
  const ymd = isValidYmd(yyyymmdd) ? Number(yyyymmdd) : 0;
  let e = ERAS.length - 1;
  while (e >= 0 && ymd < (ERAS[e] as Era).start) e--;
  const era = ERAS[e];
  if (era === undefined) {
    throw new RangeError("toWareki: 明治改元（1868-09-08）以降の有効な YYYYMMDD が必要です");
  }
  const eraYear = Math.floor(ymd / 10000) - Math.floor(era.start / 10000) + 1;
  const month = Math.floor(ymd / 100) % 100;
  const day = ymd % 100;
  return `${era.name}${eraYear === 1 ? "元" : eraYear}年${month}月${day}日`;
}
