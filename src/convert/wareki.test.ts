import fc from "fast-check";
import { describe, expect, it } from "vitest";

import type { TransformResult } from "./issues.js";
import { isValidYmd, parseJapaneseDate, toWareki } from "./wareki.js";

function valueOf(r: TransformResult<string>): string | undefined {
  return r.ok ? r.value : undefined;
}

function codeOf(r: TransformResult<string>): string {
  if (!r.ok) return r.code;
  return r.warning?.code ?? "OK";
}

/** Independent calendar oracle: the platform Date on the proleptic Gregorian calendar. */
function oracleValid(s: string): boolean {
  const y = Number(s.slice(0, 4));
  const m = Number(s.slice(4, 6));
  const d = Number(s.slice(6, 8));
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  const dt = new Date(0);
  dt.setUTCFullYear(y, m - 1, d);
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === m - 1 && dt.getUTCDate() === d;
}

function ymdOf(dt: Date): string {
  return (
    String(dt.getUTCFullYear()).padStart(4, "0") +
    String(dt.getUTCMonth() + 1).padStart(2, "0") +
    String(dt.getUTCDate()).padStart(2, "0")
  );
}

/** Dates as UTC Date objects from `from` to `to` (inclusive, as YYYY-MM-DD). */
function dateArb(from: string, to: string): fc.Arbitrary<Date> {
  return fc
    .date({ min: new Date(`${from}T00:00:00Z`), max: new Date(`${to}T00:00:00Z`), noInvalidDate: true })
    .map((d) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())));
}

/** ICU's Japanese calendar, an independent era oracle; it agrees with the era table from 明治6年 on. */
const icu = new Intl.DateTimeFormat("ja-JP-u-ca-japanese", {
  era: "long",
  year: "numeric",
  month: "numeric",
  day: "numeric",
  timeZone: "UTC",
});
const LETTER: Record<string, string> = { 明治: "M", 大正: "T", 昭和: "S", 平成: "H", 令和: "R" };
const DIGIT: Record<string, string> = { 明治: "1", 大正: "2", 昭和: "3", 平成: "4", 令和: "5" };

function icuParts(dt: Date): { era: string; year: number; month: number; day: number } {
  const parts = icu.formatToParts(dt);
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? "";
  return { era: get("era"), year: Number(get("year")), month: Number(get("month")), day: Number(get("day")) };
}

const pad2 = (n: number): string => String(n).padStart(2, "0");

describe("parseJapaneseDate: accepted shapes", () => {
  it.each([
    ["S450305", "19700305"],
    ["s45.3.5", "19700305"],
    ["昭和45年3月5日", "19700305"],
    ["昭和 45年 3月 5日", "19700305"],
    ["昭45.03.05", "19700305"],
    ["㍼45/3/5", "19700305"],
    ["3450305", "19700305"],
    ["３４５０３０５", "19700305"],
    ["Ｓ４５．３．５", "19700305"],
    ["H01.01.08", "19890108"],
    ["平成元年1月8日", "19890108"],
    ["h1-1-8", "19890108"],
    ["R1/5/1", "20190501"],
    ["令和元年5月1日", "20190501"],
    ["令和1年5月1日", "20190501"],
    ["㋿1.5.1", "20190501"],
    ["20240401", "20240401"],
    ["2024/4/1", "20240401"],
    ["2024-04-01", "20240401"],
    ["2024.4.1", "20240401"],
    ["2024年4月1日", "20240401"],
    ["\u3000２０２４／０４／０１ ", "20240401"],
    ["T1.7.30", "19120730"],
    ["M1.9.8", "18680908"],
  ])("%s → %s", (input, expected) => {
    const r = parseJapaneseDate(input);
    expect(codeOf(r)).toBe("OK");
    expect(valueOf(r)).toBe(expected);
  });
});

describe("parseJapaneseDate: every era marker", () => {
  it.each([
    ["明", "M", "m", "㍾", "45.7.29", "19120729"],
    ["大", "T", "t", "㍽", "1.7.30", "19120730"],
    ["昭", "S", "s", "㍼", "64.1.7", "19890107"],
    ["平", "H", "h", "㍻", "1.1.8", "19890108"],
    ["令", "R", "r", "㋿", "1.5.1", "20190501"],
  ])("%s / %s / %s / %s with %s → %s", (kanji, upper, lower, sign, rest, expected) => {
    for (const marker of [kanji, upper, lower, sign]) {
      expect(valueOf(parseJapaneseDate(marker + rest)), marker).toBe(expected);
    }
  });
});

describe("parseJapaneseDate: era boundaries (era table, standard-format-facts §3)", () => {
  it.each([
    ["M1.9.7", "明治 before 1868-09-08"],
    ["明治元年1月25日", "明治元年 before the table's start (retroactive 慶応4年 dates are not 明治)"],
    ["T1.7.29", "大正 before 1912-07-30"],
    ["S1.12.24", "昭和 before 1926-12-25"],
    ["H1.1.7", "平成 before 1989-01-08"],
    ["R1.4.30", "令和 before 2019-05-01"],
  ])("%s is VALUE_DATE_INVALID (%s)", (input) => {
    expect(codeOf(parseJapaneseDate(input))).toBe("VALUE_DATE_INVALID");
  });

  it.each([
    ["M45.7.30", "19120730"],
    ["T15.12.25", "19261225"],
    ["昭和64年1月8日", "19890108"],
    ["H31.5.1", "20190501"],
    ["平成31年5月1日", "20190501"],
    ["H32.1.1", "20200101"],
  ])("%s after its era ended → %s with VALUE_DATE_ERA_OVERFLOW", (input, expected) => {
    const r = parseJapaneseDate(input);
    expect(codeOf(r)).toBe("VALUE_DATE_ERA_OVERFLOW");
    expect(valueOf(r)).toBe(expected);
  });

  it.each([
    ["M45.7.29", "19120729"],
    ["T15.12.24", "19261224"],
    ["S64.1.7", "19890107"],
    ["H31.4.30", "20190430"],
  ])("%s, the last day of its era, needs no warning", (input, expected) => {
    const r = parseJapaneseDate(input);
    expect(codeOf(r)).toBe("OK");
    expect(valueOf(r)).toBe(expected);
  });
});

describe("parseJapaneseDate: rejected input", () => {
  it.each([
    ["H12.2.29", "OK"], // 2000 is a leap year (divisible by 400)
    ["R2.2.29", "OK"],
    ["H31.2.29", "VALUE_DATE_INVALID"], // 2019 is not
    ["19000229", "VALUE_DATE_INVALID"], // 1900 is not (divisible by 100)
    ["20240431", "VALUE_DATE_INVALID"],
    ["20241301", "VALUE_DATE_INVALID"],
    ["00000000", "VALUE_DATE_INVALID"],
    ["H0.1.1", "VALUE_DATE_INVALID"],
    ["2024/4-1", "VALUE_DATE_INVALID"],
    ["450305", "VALUE_DATE_INVALID"],
    ["6450305", "VALUE_DATE_INVALID"],
    ["X45.3.5", "VALUE_DATE_INVALID"],
    ["S45.3.5.1", "VALUE_DATE_INVALID"],
    ["2024/04/01 10:00", "VALUE_DATE_INVALID"],
    ["", "VALUE_DATE_INVALID"],
    ["   ", "VALUE_DATE_INVALID"],
    ["平日", "VALUE_DATE_INVALID"],
  ])("%s → %s", (input, code) => {
    expect(codeOf(parseJapaneseDate(input))).toBe(code);
  });

  it("an over-long cell is VALUE_DATE_INVALID without being scanned", () => {
    expect(codeOf(parseJapaneseDate("2".repeat(500)))).toBe("VALUE_DATE_INVALID");
    expect(codeOf(parseJapaneseDate(`${" ".repeat(100)}20240401`))).toBe("VALUE_DATE_INVALID");
  });

  it("never throws on arbitrary strings, and failures never echo the input", () => {
    const dateishChar = fc.constantFrom(
      ...Array.from("0123456789./-年月日元 SHRMTshr昭和平成令和０１２３４５．／"),
    );
    const dateish = fc.array(dateishChar, { maxLength: 14 }).map((cs) => cs.join(""));
    fc.assert(
      fc.property(fc.oneof(dateish, fc.string({ unit: "grapheme", maxLength: 20 })), (s) => {
        const r = parseJapaneseDate(s);
        const message = r.ok ? (r.warning?.message ?? "") : r.message;
        if (s.trim().length >= 3) expect(message).not.toContain(s.trim());
      }),
      { numRuns: 1000 },
    );
  });
});

describe("toWareki and round trips", () => {
  it("writes the canonical form with 元年 and no zero padding", () => {
    expect(toWareki("20190501")).toBe("令和元年5月1日");
    expect(toWareki("20190430")).toBe("平成31年4月30日");
    expect(toWareki("19700305")).toBe("昭和45年3月5日");
    expect(toWareki("18680908")).toBe("明治元年9月8日");
  });

  it("rejects dates before 明治 or malformed input with RangeError", () => {
    expect(() => toWareki("18680907")).toThrow(RangeError);
    expect(() => toWareki("2019-05-01")).toThrow(RangeError);
    expect(() => toWareki("20190230")).toThrow(RangeError);
  });

  it("parse(toWareki(d)) === d without warning for every date 1868-09-08..2099-12-31", () => {
    const end = Date.UTC(2099, 11, 31);
    let failures = 0;
    let count = 0;
    for (let t = Date.UTC(1868, 8, 8); t <= end; t += 86_400_000) {
      const ymd = ymdOf(new Date(t));
      const r = parseJapaneseDate(toWareki(ymd));
      if (!r.ok || r.warning !== undefined || r.value !== ymd) failures++;
      count++;
    }
    expect(count).toBe(84_486); // days in 1868-09-08..2099-12-31, per Python's datetime
    expect(failures).toBe(0);
  });

  it("toWareki agrees with ICU's Japanese calendar (from 明治6年, where ICU and the table agree)", () => {
    fc.assert(
      fc.property(dateArb("1873-01-01", "2099-12-31"), (dt) => {
        const p = icuParts(dt);
        const year = p.year === 1 ? "元" : String(p.year);
        expect(toWareki(ymdOf(dt))).toBe(`${p.era}${year}年${p.month}月${p.day}日`);
      }),
      { numRuns: 1000 },
    );
  });

  it("letter, era-digit and full-width forms built from ICU's era parse to the same date", () => {
    fc.assert(
      fc.property(dateArb("1873-01-01", "2099-12-31"), (dt) => {
        const p = icuParts(dt);
        const letter = LETTER[p.era] ?? "?";
        const yymmdd = pad2(p.year) + pad2(p.month) + pad2(p.day);
        const ymd = ymdOf(dt);
        for (const form of [
          letter + yymmdd,
          (DIGIT[p.era] ?? "?") + yymmdd,
          `${letter.toLowerCase()}${p.year}.${p.month}.${p.day}`,
          `${p.era}${p.year}年${pad2(p.month)}月${pad2(p.day)}日`,
          `${letter}${p.year}／${p.month}／${p.day}`.replace(/[0-9A-Z]/g, (c) =>
            String.fromCharCode(c.charCodeAt(0) + 0xfee0),
          ),
        ]) {
          expect(valueOf(parseJapaneseDate(form)), form).toBe(ymd);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("a date written in the previous era (year ≤ 99) parses to itself with VALUE_DATE_ERA_OVERFLOW", () => {
    const previous: readonly (readonly [string, string, number])[] = [
      ["1912-07-30", "M", 1868],
      ["1926-12-25", "T", 1912],
      ["1989-01-08", "S", 1926],
      ["2019-05-01", "H", 1989],
    ];
    for (const [from, letter, startYear] of previous) {
      const to = `${startYear + 98}-12-31`;
      fc.assert(
        fc.property(dateArb(from, to), (dt) => {
          const text = `${letter}${dt.getUTCFullYear() - startYear + 1}.${dt.getUTCMonth() + 1}.${dt.getUTCDate()}`;
          const r = parseJapaneseDate(text);
          expect(codeOf(r)).toBe("VALUE_DATE_ERA_OVERFLOW");
          expect(valueOf(r)).toBe(ymdOf(dt));
        }),
        { numRuns: 100 },
      );
    }
  });

  it("western forms round-trip for any valid date", () => {
    fc.assert(
      fc.property(dateArb("0001-01-01", "9999-12-31"), (dt) => {
        const ymd = ymdOf(dt);
        const [y, m, d] = [ymd.slice(0, 4), Number(ymd.slice(4, 6)), Number(ymd.slice(6))];
        for (const form of [ymd, `${y}/${m}/${d}`, `${y}-${pad2(m)}-${pad2(d)}`, `${y}年${m}月${d}日`]) {
          expect(valueOf(parseJapaneseDate(form)), form).toBe(ymd);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("isValidYmd", () => {
  it("agrees with the Date oracle on eight-digit strings", () => {
    const ymd = fc
      .tuple(
        fc.integer({ min: 0, max: 9999 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
      )
      .map(([y, m, d]) => String(y).padStart(4, "0") + pad2(m) + pad2(d));
    fc.assert(
      fc.property(ymd, (s) => {
        expect(isValidYmd(s)).toBe(oracleValid(s));
      }),
      { numRuns: 1000 },
    );
  });

  it("is false for anything that is not eight ASCII digits", () => {
    for (const s of ["2024041", "202404011", "2024-4-1", "２０２４０４０１", "2024040a", ""]) {
      expect(isValidYmd(s)).toBe(false);
    }
  });
});
