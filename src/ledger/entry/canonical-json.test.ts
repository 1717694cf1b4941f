import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, isCanonicalText } from "./canonical-json.js";

describe("canonicalJson (RFC 8785)", () => {
  it("writes the same text as the canonicalize package for any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(value)).toBe(canonicalize(value));
      }),
      { numRuns: 2000 },
    );
  });

  it("sorts keys by UTF-16 code units, writes numbers as ECMAScript does, escapes as JSON.stringify", () => {
    const value = {
      "\u{1F600}": 1,
      "\uFFFD": 2,
      b: [1e21, 1e-7, -0, 0.1],
      a: '\u2028\n"\\',
      "10": 3,
      "9": 4,
    };
    const expected = '{"10":3,"9":4,"a":"\u2028\\n\\"\\\\","b":[1e+21,1e-7,0,0.1],"\u{1F600}":1,"\uFFFD":2}';
    expect(canonicalJson(value)).toBe(expected);
    expect(canonicalize(value)).toBe(expected);
  });

  it("refuses what is not JSON data: NaN, Infinity, lone surrogates, functions", () => {
    expect(canonicalJson({ a: Number.NaN })).toBeUndefined();
    expect(canonicalJson([Number.POSITIVE_INFINITY])).toBeUndefined();
    expect(canonicalJson({ a: "x\uD800y" })).toBeUndefined();
    expect(canonicalJson({ ["\uDC00"]: 1 })).toBeUndefined();
    expect(canonicalJson(() => 1)).toBeUndefined();
    expect(canonicalJson("\uD83D\uDE00")).toBe('"\u{1F600}"');
  });
});

describe("isCanonicalText", () => {
  it("agrees with the full serialisation on canonical and non-canonical texts of any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (value, pretty) => {
        const texts = [canonicalize(value) ?? "null", JSON.stringify(value, null, pretty ? 1 : 0)];
        for (const text of texts) {
          const parsed: unknown = JSON.parse(text);
          expect(isCanonicalText(parsed, text)).toBe(canonicalJson(parsed) === text);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses reordered keys, duplicates, escaped lone surrogates and needless escapes", () => {
    const cases = ['{"b":1,"a":2}', '{"a":1,"a":2}', '{"a":"\\ud800"}', '{"a":"\\u0041"}', '{"9":1,"10":2}'];
    for (const text of cases) expect(isCanonicalText(JSON.parse(text), text)).toBe(false);
    expect(isCanonicalText(JSON.parse('{"10":2,"9":1}'), '{"10":2,"9":1}')).toBe(true);
    expect(isCanonicalText(JSON.parse('{"a":"\\\\ud800"}'), '{"a":"\\\\ud800"}')).toBe(true);
  });
});
