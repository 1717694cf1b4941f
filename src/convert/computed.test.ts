import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { bmiMatches, computeAge, computeBmi, computeEgfr } from "./computed.js";
import type { TransformResult } from "./issues.js";
import { formatClinicalNumber, parseClinicalNumber } from "./number.js";

function valueOf(r: TransformResult<string>): string | undefined {
  return r.ok ? r.value : undefined;
}

function codeOf(r: TransformResult<string>): string {
  if (!r.ok) return r.code;
  return r.warning?.code ?? "OK";
}

/** Decimal string of `n / 10^decimals` for a non-negative integer n. */
function decimal(n: number, decimals: number): string {
  if (decimals === 0) return String(n);
  const t = String(n).padStart(decimals + 1, "0");
  return `${t.slice(0, -decimals)}.${t.slice(-decimals)}`;
}

const heightArb = fc.integer({ min: 500, max: 2500 }).map((n) => decimal(n, 1)); // 50.0–250.0 cm
const weightArb = fc.integer({ min: 200, max: 2500 }).map((n) => decimal(n, 1)); // 20.0–250.0 kg
const creatinineArb = fc.integer({ min: 10, max: 1500 }).map((n) => decimal(n, 2)); // 0.10–15.00 mg/dL
const adultAgeArb = fc.integer({ min: 18, max: 110 });

describe("computeBmi", () => {
  it.each([
    ["170", "65", "22.5"], // 22.4913…
    ["160.5", "55.2", "21.4"], // 21.4283…
    ["150", "45", "20.0"],
    ["158.1", "50", "20.0"], // 20.0035…
    ["200", "89.8", "22.5"], // exactly 22.45: half up (float division gives 22.449999…)
    ["100", "22.25", "22.3"], // exactly 22.25: half up, not to even
    ["１７０．０", "６５", "22.5"],
  ])("height %s cm, weight %s kg → %s", (h, w, expected) => {
    const r = computeBmi(h, w);
    expect(codeOf(r)).toBe("OK");
    expect(valueOf(r)).toBe(expected);
  });

  it.each([
    ["0", "65", "COMPUTE_INPUT_INVALID"],
    ["-170", "65", "COMPUTE_INPUT_INVALID"],
    ["170", "0.0", "COMPUTE_INPUT_INVALID"],
    ["abc", "65", "COMPUTE_INPUT_INVALID"],
    ["<170", "65", "COMPUTE_INPUT_INVALID"],
    ["", "65", "COMPUTE_INPUT_MISSING"],
    ["170", "\u3000", "COMPUTE_INPUT_MISSING"],
  ])("height %j, weight %j → %s", (h, w, code) => {
    expect(codeOf(computeBmi(h, w))).toBe(code);
  });

  it("at 100 cm equals the weight rounded by the number module (exact half-up agreement)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 99_999 }), fc.integer({ min: 0, max: 3 }), (n, scale) => {
        const w = decimal(n, scale);
        const parsed = parseClinicalNumber(w);
        if (!parsed.ok) throw new Error("weight did not parse");
        expect(valueOf(computeBmi("100", w))).toBe(valueOf(formatClinicalNumber(parsed.value, 1)));
      }),
      { numRuns: 500 },
    );
  });

  it("is within half a tenth of the floating-point value", () => {
    fc.assert(
      fc.property(heightArb, weightArb, (h, w) => {
        const exact = Number(w) / (Number(h) / 100) ** 2;
        expect(Math.abs(Number(valueOf(computeBmi(h, w))) - exact)).toBeLessThanOrEqual(0.05 + 1e-9);
      }),
      { numRuns: 500 },
    );
  });
});

describe("bmiMatches", () => {
  it.each([
    ["100", "22.25", "22.35", true], // exactly +0.1
    ["100", "22.25", "22.15", true], // exactly −0.1
    ["100", "22.25", "22.36", false],
    ["100", "22.25", "22.14", false],
    ["170", "65", "22.4", true], // a source that truncates 22.49… still matches
    ["170", "65", "24.0", false],
  ])("height %s, weight %s, BMI %s → %s", (h, w, bmi, expected) => {
    expect(bmiMatches(h, w, bmi)).toBe(expected);
  });

  it("is false when any value is missing or unusable", () => {
    expect(bmiMatches("", "65", "22.5")).toBe(false);
    expect(bmiMatches("170", "65", "")).toBe(false);
    expect(bmiMatches("0", "65", "22.5")).toBe(false);
    expect(bmiMatches("170", "65", "<22.5")).toBe(false);
  });

  it("accepts the BMI that computeBmi wrote", () => {
    fc.assert(
      fc.property(heightArb, weightArb, (h, w) => {
        expect(bmiMatches(h, w, valueOf(computeBmi(h, w)) ?? "")).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe("computeAge", () => {
  it.each([
    ["19700305", "20240304", "53"], // the day before the birthday
    ["19700305", "20240305", "54"], // on the birthday
    ["20240401", "20240401", "0"],
    ["20000229", "20010228", "0"], // Feb-29 birthday, non-leap year: not yet on 2/28
    ["20000229", "20010301", "1"], // …but on 3/1
    ["20000229", "20040229", "4"],
    ["19991231", "20000101", "0"],
  ])("born %s, on %s → %s", (birth, on, expected) => {
    expect(computeAge(birth, on)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ["20240402", "20240401", "COMPUTE_INPUT_INVALID"],
    ["19700230", "20240401", "COMPUTE_INPUT_INVALID"],
    ["1970-03-05", "20240401", "COMPUTE_INPUT_INVALID"],
    ["", "20240401", "COMPUTE_INPUT_MISSING"],
    ["19700305", " ", "COMPUTE_INPUT_MISSING"],
  ])("born %j, on %j → %s", (birth, on, code) => {
    expect(codeOf(computeAge(birth, on))).toBe(code);
  });

  it("counts the birthdays reached, by walking the calendar year by year", () => {
    const day = fc
      .date({
        min: new Date("1900-01-01T00:00:00Z"),
        max: new Date("2099-12-31T00:00:00Z"),
        noInvalidDate: true,
      })
      .map((d) => [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()] as const);
    const ymd = ([y, m, d]: readonly [number, number, number]): string => String(y * 10000 + m * 100 + d);
    fc.assert(
      fc.property(day, day, (a, b) => {
        const [birth, on] = ymd(a) <= ymd(b) ? [a, b] : [b, a];
        // Birthday in year y: the same month/day, or 3/1 when that day does not exist (Feb 29).
        const birthdayIn = (y: number): number => {
          const dt = new Date(Date.UTC(y, birth[1] - 1, birth[2]));
          return dt.getUTCFullYear() * 10000 + (dt.getUTCMonth() + 1) * 100 + dt.getUTCDate();
        };
        let age = 0;
        for (let y = birth[0] + 1; y <= on[0] && birthdayIn(y) <= Number(ymd(on)); y++) age++;
        expect(computeAge(ymd(birth), ymd(on))).toEqual({ ok: true, value: String(age) });
      }),
      { numRuns: 500 },
    );
  });
});

describe("computeEgfr (194 × Cr^−1.094 × Age^−0.287, × 0.739 for women)", () => {
  // Expected values computed independently with mpmath at 40 digits.
  it.each([
    ["1.00", "50", "男性", "63.1"], // 63.1244…
    ["1.00", "50", "女性", "46.6"], // 46.6489…
    ["0.70", "40", "男性", "99.4"], // 99.4199…
    ["0.70", "40", "女性", "73.5"], // 73.4713…
    ["2.5", "75", "男性", "20.6"], // 20.6211…
    ["0.5", "18", "男性", "180.7"], // 180.6614…
    ["1.2", "65", "女性", "35.4"], // 35.4418…
    ["0.85", "30", "男性", "87.3"], // 87.3139…
  ] as const)("Cr %s, age %s, %s → %s", (cr, age, sex, expected) => {
    expect(computeEgfr(cr, age, sex)).toEqual({ ok: true, value: expected });
  });

  it.each([
    ["1.00", "17", "COMPUTE_INPUT_INVALID"],
    ["1.00", "50.5", "COMPUTE_INPUT_INVALID"],
    ["0", "50", "COMPUTE_INPUT_INVALID"],
    ["-1.0", "50", "COMPUTE_INPUT_INVALID"],
    ["<0.30", "50", "COMPUTE_INPUT_INVALID"],
    [`0.${"0".repeat(40)}1`, "50", "COMPUTE_INPUT_INVALID"], // result too large to be a GFR
    ["", "50", "COMPUTE_INPUT_MISSING"],
    ["1.00", "", "COMPUTE_INPUT_MISSING"],
  ])("Cr %j, age %j → %s", (cr, age, code) => {
    expect(codeOf(computeEgfr(cr, age, "男性"))).toBe(code);
  });

  it("never increases when creatinine rises", () => {
    fc.assert(
      fc.property(creatinineArb, creatinineArb, adultAgeArb, (a, b, age) => {
        const [lo, hi] = Number(a) <= Number(b) ? [a, b] : [b, a];
        const eLo = Number(valueOf(computeEgfr(lo, String(age), "男性")));
        const eHi = Number(valueOf(computeEgfr(hi, String(age), "男性")));
        expect(eLo).toBeGreaterThanOrEqual(eHi);
      }),
      { numRuns: 500 },
    );
  });

  it("never increases with age", () => {
    fc.assert(
      fc.property(creatinineArb, adultAgeArb, adultAgeArb, (cr, a, b) => {
        const [young, old] = a <= b ? [a, b] : [b, a];
        const eYoung = Number(valueOf(computeEgfr(cr, String(young), "女性")));
        const eOld = Number(valueOf(computeEgfr(cr, String(old), "女性")));
        expect(eYoung).toBeGreaterThanOrEqual(eOld);
      }),
      { numRuns: 500 },
    );
  });

  it("for women is 0.739 × the value for men, within rounding", () => {
    fc.assert(
      fc.property(creatinineArb, adultAgeArb, (cr, age) => {
        const male = Number(valueOf(computeEgfr(cr, String(age), "男性")));
        const female = Number(valueOf(computeEgfr(cr, String(age), "女性")));
        // each printed value is within 0.05 of the true one: 0.05 + 0.739 × 0.05 < 0.1
        expect(Math.abs(female - 0.739 * male)).toBeLessThan(0.1);
      }),
      { numRuns: 500 },
    );
  });
});
