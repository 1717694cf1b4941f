import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { toHalfWidth } from "./width.js";

/**
 * Slow reference built on the platform's Unicode tables: NFKC of one character (or of a kana + mark
 * pair when NFKC composes it into one letter) is exactly what we want for the two folded families; the
 * only deliberate difference is that a lone ﾞ/ﾟ becomes the spacing ゛/゜ rather than a combining mark.
 */
function reference(text: string): string {
  const isTarget = (c: number): boolean =>
    (c >= 0xff01 && c <= 0xff5e) || c === 0x3000 || (c >= 0xff61 && c <= 0xff9f);
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!isTarget(c)) {
      out += text[i] ?? "";
      continue;
    }
    const next = text.charCodeAt(i + 1);
    if (c >= 0xff61 && c <= 0xff9d && (next === 0xff9e || next === 0xff9f)) {
      const pair = text.slice(i, i + 2).normalize("NFKC");
      if (pair.length === 1) {
        out += pair;
        i++;
        continue;
      }
    }
    if (c === 0xff9e) out += "゛";
    else if (c === 0xff9f) out += "゜";
    else out += String.fromCharCode(c).normalize("NFKC");
  }
  return out;
}

const mixedChar = fc.constantFrom(
  ...Array.from("aZ09 -.,<>~"),
  ...Array.from("ａＺ０９－．，＜＞～！"),
  "\u3000",
  ...Array.from("ｱｶｻﾀﾊﾏﾔﾗﾜｦﾝｳｯｰｶﾞﾊﾟﾞﾟ｡｢｣､･"),
  ...Array.from("ガパー・①㎎漢字㍻−"),
  "😀",
);
const mixedText = fc.array(mixedChar, { maxLength: 30 }).map((cs) => cs.join(""));

describe("toHalfWidth", () => {
  it("folds full-width digits, letters and punctuation to ASCII", () => {
    expect(toHalfWidth("１２３．４５ＡＢＣｘｙｚ（）＜＞")).toBe("123.45ABCxyz()<>");
  });

  it("turns the ideographic space into an ASCII space", () => {
    expect(toHalfWidth("山田\u3000太郎")).toBe("山田 太郎");
  });

  it("widens half-width katakana and composes dakuten and handakuten", () => {
    expect(toHalfWidth("ｶﾞﾝ")).toBe("ガン");
    expect(toHalfWidth("ﾎﾟﾘｰﾌﾟ")).toBe("ポリープ");
    expect(toHalfWidth("ﾍﾞﾝﾄﾞｳ")).toBe("ベンドウ");
    expect(toHalfWidth("ｳﾞｧ")).toBe("ヴァ");
    expect(toHalfWidth("ｲﾁｮｳ｡")).toBe("イチョウ。");
  });

  it("keeps a mark that cannot compose as a spacing ゛ or ゜", () => {
    expect(toHalfWidth("ｱﾞ")).toBe("ア゛");
    expect(toHalfWidth("ﾟ")).toBe("゜");
    expect(toHalfWidth("ｶﾟ")).toBe("カ゜");
  });

  it("leaves kanji, full-width katakana, ー, ・, circled digits and unit symbols alone", () => {
    const text = "胃ポリープ・所見ー①㎎㍻−";
    expect(toHalfWidth(text)).toBe(text);
  });

  it("agrees with the NFKC-based reference on mixed text", () => {
    fc.assert(
      fc.property(mixedText, (s) => {
        expect(toHalfWidth(s)).toBe(reference(s));
      }),
      { numRuns: 1000 },
    );
  });

  it("is idempotent", () => {
    fc.assert(
      fc.property(fc.oneof(mixedText, fc.string({ unit: "grapheme" })), (s) => {
        const once = toHalfWidth(s);
        expect(toHalfWidth(once)).toBe(once);
      }),
      { numRuns: 1000 },
    );
  });

  it("returns ASCII input unchanged", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary-ascii" }), (s) => {
        expect(toHalfWidth(s)).toBe(s);
      }),
      { numRuns: 500 },
    );
  });

  it("never makes a string longer", () => {
    fc.assert(
      fc.property(fc.oneof(mixedText, fc.string({ unit: "binary" })), (s) => {
        expect(toHalfWidth(s).length).toBeLessThanOrEqual(s.length);
      }),
      { numRuns: 300 },
    );
  });
});
