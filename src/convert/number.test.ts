import fc from "fast-check";
import { describe, expect, it } from "vitest";

import type { TransformResult } from "./issues.js";
import type { ClinicalNumber, NumberQualifier } from "./number.js";
import {
  formatClinicalNumber,
  formatPlainNumber,
  parseClinicalNumber,
  scaleClinicalNumber,
  toNumber,
} from "./number.js";

function parsed(text: string): ClinicalNumber {
  const r = parseClinicalNumber(text);
  if (!r.ok) throw new Error(`expected ${text} to parse, got ${r.code}`);
  return r.value;
}

function codeOf<T>(r: TransformResult<T>): string {
  if (!r.ok) return r.code;
  return r.warning?.code ?? "OK";
}

/** BigInt reference for 四捨五入 to `decimals`: floor((2m + d) / 2d) on the magnitude. */
function referenceRound(digits: string, decimals: number): { text: string; exact: boolean } {
  const negative = digits.startsWith("-");
  const [int = "", frac = ""] = (negative ? digits.slice(1) : digits).split(".");
  const mantissa = BigInt(int + frac);
  let q: bigint;
  let exact = true;
  if (frac.length <= decimals) {
    q = mantissa * 10n ** BigInt(decimals - frac.length);
  } else {
    const div = 10n ** BigInt(frac.length - decimals);
    q = (mantissa * 2n + div) / (2n * div);
    exact = mantissa % div === 0n;
  }
  let text = q.toString();
  if (decimals > 0) {
    text = text.padStart(decimals + 1, "0");
    text = `${text.slice(0, -decimals)}.${text.slice(-decimals)}`;
  }
  return { text: (negative && q !== 0n ? "-" : "") + text, exact };
}

const digitString = (min: number, max: number): fc.Arbitrary<string> =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((ds) => ds.join(""));

/** A number as an abstract spec, with the canonical form computed independently of the parser. */
const spec = fc
  .record({
    qualifier: fc.constantFrom<NumberQualifier>("", "<", "<=", ">", ">="),
    negative: fc.boolean(),
    int: digitString(0, 9),
    frac: digitString(0, 5),
    dot: fc.boolean(),
  })
  .filter((s) => s.int.length + s.frac.length > 0)
  .map((s) => {
    const int = s.int === "" ? "0" : BigInt(s.int).toString();
    const magnitude = s.frac === "" ? int : `${int}.${s.frac}`;
    const zero = /^[0.]+$/.test(magnitude);
    return { ...s, dot: s.dot || s.frac !== "", canonical: (s.negative && !zero ? "-" : "") + magnitude };
  });

const toFullWidth = (t: string): string =>
  t.replace(/[0-9.,+<>=]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
const group = (int: string): string => int.replace(/\B(?=(\d{3})+$)/g, ",");

/** The spec written the way a messy export might write it. */
const noisy = fc
  .tuple(
    spec,
    fc.record({
      minus: fc.constantFrom("-", "−", "－", "‐", "ー", "–"),
      plus: fc.boolean(),
      grouped: fc.boolean(),
      fullWidth: fc.boolean(),
      suffixForm: fc.boolean(),
      space: fc.constantFrom("", " ", "\u3000", "  "),
      prefixLt: fc.constantFrom("<", "＜"),
      prefixLe: fc.constantFrom("<=", "≦", "≤", "＜＝"),
      prefixGe: fc.constantFrom(">=", "≧", "≥"),
    }),
  )
  .map(([s, w]) => {
    const int = w.grouped && !s.int.startsWith("0") ? group(s.int) : s.int;
    let body = s.dot ? `${int}.${s.frac}` : int;
    if (w.fullWidth) body = toFullWidth(body);
    const sign = s.negative ? w.minus : w.plus ? "+" : "";
    const prefix = { "": "", "<": w.prefixLt, "<=": w.prefixLe, ">": ">", ">=": w.prefixGe }[s.qualifier];
    const suffix = { "": "", "<": "未満", "<=": "以下", ">": "超", ">=": "以上" }[s.qualifier];
    const text = w.suffixForm ? `${sign}${body}${w.space}${suffix}` : `${prefix}${w.space}${sign}${body}`;
    return { spec: s, text: `${w.space}${text}${w.space}` };
  });

describe("parseClinicalNumber", () => {
  it.each([
    ["1,234", "", "1234"],
    ["１，２３４．５", "", "1234.5"],
    ["+5", "", "5"],
    ["−0.15", "", "-0.15"],
    ["－０．１５", "", "-0.15"],
    ["ー3", "", "-3"],
    ["‐3", "", "-3"],
    [" 12. ", "", "12"],
    [".5", "", "0.5"],
    ["007", "", "7"],
    ["0.10", "", "0.10"],
    ["-0", "", "0"],
    ["-0.00", "", "0.00"],
    ["<0.1", "<", "0.1"],
    ["＜0.1", "<", "0.1"],
    ["< 0.1", "<", "0.1"],
    ["0.1未満", "<", "0.1"],
    ["0.1以下", "<=", "0.1"],
    ["≦0.1", "<=", "0.1"],
    ["<=0.1", "<=", "0.1"],
    [">1000", ">", "1000"],
    ["1000超", ">", "1000"],
    ["1000以上", ">=", "1000"],
    ["≧1000", ">=", "1000"],
    [">=1000", ">=", "1000"],
    ["<-0.5", "<", "-0.5"],
    ["123456789012345", "", "123456789012345"],
    ["0.000000000000000001", "", "0.000000000000000001"],
  ])("%s → qualifier %s, digits %s", (input, qualifier, digits) => {
    expect(parseClinicalNumber(input)).toEqual({ ok: true, value: { qualifier, digits } });
  });

  it.each([
    "1e3",
    "1E-3",
    "1 2",
    "1.2.3",
    "1-2",
    "12,34",
    "1,2345",
    ",123",
    "123,",
    "1,,234",
    "1,234.5,6",
    "abc",
    "12mg",
    "",
    "   ",
    "-",
    "ー",
    ".",
    "<",
    "未満",
    "<0.1未満",
    "--1",
    "+-1",
    "1-",
    "0x10",
    "Infinity",
    "NaN",
    "1234567890123456",
    "1.234567890123456",
    "１".repeat(100),
  ])("%j → VALUE_NUMBER_INVALID", (input) => {
    expect(codeOf(parseClinicalNumber(input))).toBe("VALUE_NUMBER_INVALID");
  });

  it("reads every messy spelling of a number as its canonical form", () => {
    fc.assert(
      fc.property(noisy, ({ spec: s, text }) => {
        expect(parseClinicalNumber(text), text).toEqual({
          ok: true,
          value: { qualifier: s.qualifier, digits: s.canonical },
        });
      }),
      { numRuns: 1000 },
    );
  });

  it("parses its own canonical output to the same value", () => {
    fc.assert(
      fc.property(noisy, ({ text }) => {
        const n = parsed(text);
        expect(parsed(n.qualifier + n.digits)).toEqual(n);
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on arbitrary strings, and failures never echo the input", () => {
    const numberish = fc
      .array(fc.constantFrom(...Array.from("0123456789.,+-<>= e未満以上超ー－１．，")), { maxLength: 12 })
      .map((cs) => cs.join(""));
    fc.assert(
      fc.property(fc.oneof(numberish, fc.string({ unit: "grapheme", maxLength: 20 })), (s) => {
        const r = parseClinicalNumber(s);
        if (!r.ok && s.trim().length >= 3) expect(r.message).not.toContain(s.trim());
      }),
      { numRuns: 1000 },
    );
  });
});

describe("formatClinicalNumber", () => {
  it.each([
    ["5", 1, "5.0", "OK"],
    ["5", 0, "5", "OK"],
    ["0.1", 3, "0.100", "OK"],
    ["1.25", 1, "1.3", "VALUE_ROUNDED"],
    ["-1.25", 1, "-1.3", "VALUE_ROUNDED"],
    ["1.15", 1, "1.2", "VALUE_ROUNDED"], // binary float would print 1.1 (1.15 is 1.149999…)
    ["1.005", 2, "1.01", "VALUE_ROUNDED"],
    ["9.95", 1, "10.0", "VALUE_ROUNDED"],
    ["99.5", 0, "100", "VALUE_ROUNDED"],
    ["0.4", 0, "0", "VALUE_ROUNDED"],
    ["-0.04", 1, "0.0", "VALUE_ROUNDED"],
    ["1.50", 1, "1.5", "OK"],
    ["<0.15", 1, "<0.2", "VALUE_ROUNDED"],
    [">=1000", 1, ">=1000.0", "OK"],
  ])("%s with %i decimals → %s (%s)", (input, decimals, expected, code) => {
    const r = formatClinicalNumber(parsed(input), decimals);
    expect(r.ok && r.value).toBe(expected);
    expect(codeOf(r)).toBe(code);
  });

  it("renders the digits as given when decimals are undefined", () => {
    expect(formatClinicalNumber(parsed("＜００．１０"), undefined)).toEqual({ ok: true, value: "<0.10" });
  });

  it("treats a decimals value outside 0–15 as a mapping error", () => {
    for (const d of [-1, 1.5, 16, Number.NaN]) {
      expect(() => formatClinicalNumber(parsed("1"), d)).toThrow(RangeError);
    }
  });

  it("rounds exactly like the BigInt reference and warns exactly when a digit is lost", () => {
    fc.assert(
      fc.property(spec, fc.integer({ min: 0, max: 6 }), (s, decimals) => {
        const r = formatClinicalNumber({ qualifier: s.qualifier, digits: s.canonical }, decimals);
        const ref = referenceRound(s.canonical, decimals);
        expect(r.ok && r.value).toBe(s.qualifier + ref.text);
        expect(codeOf(r)).toBe(ref.exact ? "OK" : "VALUE_ROUNDED");
      }),
      { numRuns: 1000 },
    );
  });

  it("is stable: formatting the parse of its own output changes nothing and warns nothing", () => {
    fc.assert(
      fc.property(
        noisy,
        fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
        ({ text }, decimals) => {
          const first = formatClinicalNumber(parsed(text), decimals);
          if (!first.ok) throw new Error("format failed");
          expect(formatClinicalNumber(parsed(first.value), decimals)).toEqual({
            ok: true,
            value: first.value,
          });
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("scaleClinicalNumber", () => {
  it.each([
    ["100", "0.0555", 1, "5.6"], // glucose mg/dL → mmol/L; 5.55 exactly, so half up gives 5.6
    ["1.00", "88.4", 0, "88"], // creatinine mg/dL → µmol/L
    ["0.85", "88.4", 1, "75.1"],
    ["-1.25", "1", 1, "-1.3"],
    ["<0.1", "10", 0, "<1"],
    ["5", "18.016", 3, "90.080"],
    ["-0.01", "0.1", 1, "0.0"],
  ])("%s × %s to %i decimals → %s", (input, factor, decimals, expected) => {
    const n = scaleClinicalNumber(parsed(input), factor, decimals);
    expect(n.qualifier + n.digits).toBe(expected);
  });

  it.each(["-1", "0", "0.000", "1e3", "", " 1", "1."])("factor %j is a mapping error", (factor) => {
    expect(() => scaleClinicalNumber(parsed("1"), factor, 1)).toThrow(RangeError);
  });

  it("scaling by 1 rounds the same way as formatting (two independent implementations)", () => {
    fc.assert(
      fc.property(spec, fc.integer({ min: 0, max: 6 }), (s, decimals) => {
        const n: ClinicalNumber = { qualifier: s.qualifier, digits: s.canonical };
        const scaled = scaleClinicalNumber(n, "1", decimals);
        const formatted = formatClinicalNumber(n, decimals);
        expect(formatted.ok && formatted.value).toBe(scaled.qualifier + scaled.digits);
      }),
      { numRuns: 1000 },
    );
  });

  it("matches the BigInt reference for an exact product with any factor", () => {
    fc.assert(
      fc.property(
        spec,
        digitString(1, 4),
        digitString(0, 4),
        fc.integer({ min: 0, max: 4 }),
        (s, fi, ff, d) => {
          const factor = ff === "" ? fi : `${fi}.${ff}`;
          fc.pre(/[1-9]/.test(factor));
          const product = referenceRound(multiplyReference(s.canonical, factor), d).text;
          expect(scaleClinicalNumber({ qualifier: "", digits: s.canonical }, factor, d).digits).toBe(product);
        },
      ),
      { numRuns: 500 },
    );
  });
});

/** Exact product of two decimal strings, by schoolbook scaling (the factor is non-negative). */
function multiplyReference(a: string, b: string): string {
  const negative = a.startsWith("-");
  const [ai = "", af = ""] = (negative ? a.slice(1) : a).split(".");
  const [bi = "", bf = ""] = b.split(".");
  const scale = af.length + bf.length;
  const text = (BigInt(ai + af) * BigInt(bi + bf)).toString().padStart(scale + 1, "0");
  const magnitude = scale === 0 ? text : `${text.slice(0, -scale)}.${text.slice(-scale)}`;
  return (negative ? "-" : "") + magnitude;
}

describe("toNumber", () => {
  it("gives the double for range checks, ignoring the qualifier", () => {
    expect(toNumber(parsed("−0.15"))).toBe(-0.15);
    expect(toNumber(parsed("1,234"))).toBe(1234);
    expect(toNumber(parsed("<0.1"))).toBe(0.1);
  });

  it("prints back to the parsed digits at the parsed precision", () => {
    fc.assert(
      fc.property(spec, (s) => {
        expect(toNumber({ qualifier: s.qualifier, digits: s.canonical }).toFixed(s.frac.length)).toBe(
          s.canonical,
        );
      }),
      { numRuns: 500 },
    );
  });
});

describe("formatPlainNumber (the engine's shortcut)", () => {
  it("gives exactly what parse + format give, or undefined, on any short string of digits, dots and signs", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(fc.constantFrom("0", "1", "5", "9", "."), { maxLength: 18 }),
          fc.array(fc.constantFrom("0", "1", "5", "9", ".", "-", "+", ",", " ", "＜", "a"), {
            maxLength: 18,
          }),
        ),
        fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
        (chars, decimals) => {
          const text = chars.join("");
          const fast = formatPlainNumber(text, decimals);
          if (fast === undefined) return;
          const parsed = parseClinicalNumber(text);
          expect(parsed.ok).toBe(true);
          if (!parsed.ok) return;
          expect(parsed.value.qualifier).toBe("");
          const full = formatClinicalNumber(parsed.value, decimals);
          expect(full).toEqual({ ok: true, value: fast });
          expect(Number(text)).toBe(toNumber(parsed.value));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it("takes the common cells and leaves the rest to the full path", () => {
    expect(formatPlainNumber("165", 1)).toBe("165.0");
    expect(formatPlainNumber("0.85", 2)).toBe("0.85");
    expect(formatPlainNumber("12.345", 1)).toBeUndefined(); // rounding
    expect(formatPlainNumber("007", 0)).toBeUndefined(); // leading zeros
    expect(formatPlainNumber(".5", 1)).toBeUndefined();
    expect(formatPlainNumber("-1", 0)).toBeUndefined();
  });
});
