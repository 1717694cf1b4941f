import { beforeAll, describe, expect, it } from "vitest";
import { checkYaml, loadReference, runConvert, type Reference } from "../../test/support/convert-run.js";
import { compilePattern, PATTERN_MAX_SUBJECT, wildcardMatch } from "./text-pattern.js";

let ref: Reference;
beforeAll(async () => {
  ref = await loadReference();
});

const mapping = (fields: string, extra = "") => `
format: kenshin-mapping
version: 1
name: vocabulary test
layout: wide
source: { encoding: utf-8 }
fields:
  - { item: examinee-id, column: ID }
  - { item: exam-date, column: 日付 }
${fields}
${extra}`;

const run = async (fields: string, extra: string, cells: string[]) => {
  const input = `ID,日付,X\r\n${cells.map((c, i) => `A${i + 1},R7.4.1,"${c}"\r\n`).join("")}`;
  return runConvert(input, checkYaml(ref, mapping(fields, extra)));
};

describe("per-institution vocabulary", () => {
  const ecg = "  - { item: ecg-finding, column: X, thesaurus: ecg }";
  const presence = "presence: [{ item: ecg-presence, from: ecg-finding }]";

  it("without it, an abbreviation the shipped thesaurus lacks stays unconverted", async () => {
    const { summary, rows } = await run(ecg, presence, ["SVEB"]);
    expect(summary.issues.map((i) => i.code)).toEqual(["VALUE_THESAURUS_UNKNOWN"]);
    expect(rows[0]?.["心電図所見"]).toBe("SVEB");
  });

  it("the mapping's synonyms, normal phrases and patterns extend the thesaurus for that institution", async () => {
    const vocabulary = `${presence}
vocabulary:
  ecg:
    synonyms: { 上室性期外収縮: [SVEB, "S-EB"], 当院独自所見: [OWN1] }
    normal: [著変なし]
    patterns:
      - { pattern: "*経過観察不要*", normal: true }
      - { pattern: "st-t*", term: ST-T変化 }`;
    const { summary, rows } = await run(ecg, vocabulary, [
      "sveb",
      "著変なし",
      "OWN1",
      "今回は経過観察不要",
      "ST-T軽度変化",
    ]);
    expect(summary.issues.map((i) => i.code)).toEqual([]);
    expect(rows.map((r) => [r["心電図所見"], r["心電図(所見の有無)"]])).toEqual([
      ["上室性期外収縮", "所見あり"],
      ["", "所見なし"],
      ["当院独自所見", "所見あり"],
      ["", "所見なし"],
      ["ST-T変化", "所見あり"],
    ]);
    expect(rows[0]?.["心電図所見(原本値)"]).toBe("sveb");
  });

  it("codes and the thesaurus combine: codes first, the thesaurus for the rest, 所見の有無 still derived", async () => {
    const fields = ecg.replace("thesaurus: ecg", "thesaurus: ecg, codes: { '0': 異常なし, '11': 洞性徐脈 }");
    const { summary, rows } = await run(fields, presence, ["0", "11", "心房細動", "なぞの所見"]);
    expect(rows.map((r) => [r["心電図所見"], r["心電図(所見の有無)"]])).toEqual([
      ["", "所見なし"],
      ["洞性徐脈", "所見あり"],
      ["心房細動", "所見あり"],
      ["なぞの所見", "所見あり"],
    ]);
    expect(summary.issues.map((i) => i.code)).toEqual(["VALUE_THESAURUS_UNKNOWN"]);
  });

  it("a contradictory vocabulary is refused when the mapping is checked", () => {
    expect(() =>
      checkYaml(ref, mapping(ecg, "vocabulary: { ecg: { synonyms: { 洞性徐脈: [X1] }, normal: [X1] } }")),
    ).toThrow(expect.objectContaining({ code: "MAP_INVALID_RULE" }));
  });
});

describe("codes: case folding, patterns and 'any other text'", () => {
  const history = (opts: string) => `  - { item: medical-history, column: X, ${opts} }`;

  it("caseFold matches codes in any case and width", async () => {
    const { summary, rows } = await run(
      history("codes: { nad: 特記すべきことなし, abn: 特記すべきことあり }, caseFold: true"),
      "",
      ["NAD", "ｎａｄ", "Abn"],
    );
    expect(summary.issues).toEqual([]);
    expect(rows.map((r) => r["既往歴"])).toEqual([
      "特記すべきことなし",
      "特記すべきことなし",
      "特記すべきことあり",
    ]);
  });

  it("without caseFold a code in another case is unknown and named", async () => {
    const { summary } = await run(history("codes: { nad: 特記すべきことなし }"), "", ["NAD"]);
    expect(summary.issues.map((i) => i.message)).toEqual([expect.stringContaining("「NAD」")]);
  });

  it("otherwise turns any other text into one term (the source stays as the original)", async () => {
    const { summary, rows } = await run(
      history(
        "codes: { 特記事項なし: 特記すべきことなし, なし: 特記すべきことなし }, codePatterns: [{ pattern: '*なし*', term: 特記すべきことなし }], otherwise: 特記すべきことあり",
      ),
      "",
      ["特記事項なし", "高血圧（内服中）", "特になし", "特記すべきことなし"],
    );
    expect(summary.issues).toEqual([]);
    expect(rows.map((r) => [r["既往歴"], r["既往歴(原本値)"]])).toEqual([
      ["特記すべきことなし", "特記事項なし"],
      ["特記すべきことあり", "高血圧（内服中）"],
      ["特記すべきことなし", "特になし"],
      ["特記すべきことなし", ""],
    ]);
  });

  it("a term outside the item's standard terms is refused, with the closest one offered", () => {
    expect(() => checkYaml(ref, mapping(history("otherwise: 特記すべき事あり")))).toThrow(
      /もしかして「特記すべきことあり」/,
    );
  });
});

describe("per-field severity policy", () => {
  it("a non-numeric height can be made a rejection; the default stays a warning", async () => {
    const strict = await run(
      "  - { item: height, column: X, severity: { VALUE_NUMBER_INVALID: error } }",
      "",
      ["未測定", "170.0"],
    );
    expect(strict.summary.issues.map((i) => [i.code, i.severity])).toEqual([
      ["VALUE_NUMBER_INVALID", "error"],
    ]);
    expect(strict.summary.counts).toMatchObject({ recordsOut: 1, recordsRejected: 1 });
    const lenient = await run("  - { item: height, column: X }", "", ["未測定"]);
    expect(lenient.summary.issues.map((i) => i.severity)).toEqual(["warning"]);
    expect(lenient.summary.counts.recordsOut).toBe(1);
  });

  it("a code the policy does not cover is refused by the schema", () => {
    expect(() =>
      checkYaml(ref, mapping("  - { item: height, column: X, severity: { RECORD_KEY_MISSING: info } }")),
    ).toThrow(expect.objectContaining({ code: "MAP_SCHEMA" }));
  });
});

describe("numbers: a changed meaning keeps the original and is never silent", () => {
  it("rounding beyond the item's decimals warns and keeps the source", async () => {
    const { summary, rows } = await run("  - { item: height, column: X }", "", ["170.26", "170"]);
    expect(summary.issues.map((i) => i.code)).toEqual(["VALUE_ROUNDED"]);
    expect(rows.map((r) => [r["身長"], r["身長(原本値)"]])).toEqual([
      ["170.3", "170.26"],
      ["170.0", ""],
    ]);
  });
});

describe("text patterns (no RegExp from mapping files)", () => {
  const key = (t: string) => t.toLowerCase();
  it("match * and ? over code points", () => {
    const p = compilePattern("st-t*", key, "t");
    expect(p.matches("st-t変化")).toBe(true);
    expect(p.matches("xst-t")).toBe(false);
    expect(compilePattern("a?c", key, "t").matches("a𠮷c")).toBe(true);
    expect(compilePattern("*なし", key, "t").matches("特になし")).toBe(true);
  });

  it("are bounded and validated", () => {
    expect(() => compilePattern("*", key, "t")).toThrow(
      expect.objectContaining({ code: "MAP_INVALID_RULE" }),
    );
    expect(() => compilePattern("x".repeat(101), key, "t")).toThrow(/1〜100/);
    expect(() => compilePattern("a*b*c*d*e*f*g*h*i*j", key, "t")).toThrow(/8 個まで/);
    // Hostile: many stars against a long near-miss; bounded work, and over-long text never matches.
    const hostile = compilePattern("a*a*a*a*a*a*a*b", key, "t");
    expect(hostile.matches("a".repeat(PATTERN_MAX_SUBJECT))).toBe(false);
    expect(wildcardMatch(["*"], "x".repeat(PATTERN_MAX_SUBJECT + 1))).toBe(false);
  });
});
