import { readFile } from "node:fs/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { loadReference, runConvert, type Reference } from "../../../test/support/convert-run.js";
import { parseMapping, type Mapping } from "../mapping.js";
import { checkMapping } from "../mapping-check.js";
import { renderDraft } from "./draft-yaml.js";
import { suggestMapping } from "./suggest-mapping.js";
import { suggestionReport } from "./suggestion-report.js";

let ref: Reference;
beforeAll(async () => {
  ref = await loadReference();
});

/** column (or long test code) → item, for the rules that read a column. */
function choices(m: Mapping): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of m.fields) {
    for (const c of f.columns ?? (f.column !== undefined ? [f.column] : [])) out.set(c, f.item);
  }
  for (const [code, r] of Object.entries(m.long?.items ?? {})) out.set(`code:${code}`, r.item);
  return out;
}

async function draftOf(path: string): Promise<{ draft: string; mapping: Mapping }> {
  const bytes = await readFile(path);
  const s = suggestMapping(bytes, ref.dictionary, ref.thesaurus);
  const draft = renderDraft(s, { name: "下書き", sourceName: "export.csv" });
  return { draft, mapping: parseMapping(draft) };
}

describe("kenshin map suggest on the shipped examples", () => {
  for (const example of ["wide-cp932", "long-utf8"]) {
    it(`${example}: the draft is a valid mapping that reproduces the example's item choices`, async () => {
      const { draft, mapping } = await draftOf(`examples/${example}/export.csv`);
      const shipped = parseMapping(await readFile(`examples/${example}/mapping.yaml`, "utf8"));
      expect(mapping.layout).toBe(shipped.layout);
      expect(mapping.source.encoding).toBe(shipped.source.encoding);
      expect(mapping.source.skipLines).toBe(shipped.source.skipLines);
      expect(Object.fromEntries(choices(mapping))).toEqual(Object.fromEntries(choices(shipped)));
      expect(mapping.long?.visitKey).toEqual(shipped.long?.visitKey);
      expect(new Set(mapping.computed)).toEqual(new Set(shipped.computed));
      expect(mapping.presence).toEqual(shipped.presence);
      // map check accepts it, and it converts the export (no fatal error).
      const checked = checkMapping(mapping, ref.dictionary, ref.thesaurus);
      const { summary } = await runConvert(await readFile(`examples/${example}/export.csv`), checked);
      expect(summary.counts.recordsOut).toBeGreaterThan(0);
      expect(draft).toContain("信頼度");
    });
  }

  it("wide-cp932: code tables where the values are codes, thesaurus areas for findings", async () => {
    const { mapping } = await draftOf("examples/wide-cp932/export.csv");
    const rule = (item: string) => mapping.fields.find((f) => f.item === item);
    expect(rule("sex")?.codes).toEqual({ "1": "男性", "2": "女性" });
    expect(rule("urine-glucose")?.codes).toMatchObject({ "-": "－", "+-": "±" });
    expect(rule("judgement-overall")?.codes).toMatchObject({ A: "異常なし", D1: "要治療" });
    expect(rule("ecg-finding")).toMatchObject({ columns: ["心電図所見1", "心電図所見2"], thesaurus: "ecg" });
    expect(rule("fundus-finding")?.thesaurus).toBe("fundus");
  });

  it("lists what it could not place: code values, columns and test codes", async () => {
    const wide = await draftOf("examples/wide-cp932/export.csv");
    expect(wide.draft).toMatch(/健診区分 → 健診種別 \(信頼度 0\.\d+ 中 要確認/);
    expect(wide.draft).toContain('対応付けられなかった値: "1", "2"');
    const long = await draftOf("examples/long-utf8/export.csv");
    expect(long.draft).toContain("#   Z999 施設独自項目");
    expect(long.mapping.source.ignoreColumns).toEqual(["検査名", "単位"]);
    expect(long.mapping.long?.items["L030"]).toEqual({
      item: "fasting-glucose",
      unit: { from: "mmol/L", factor: "18.016" },
    });
  });

  it("never copies personal values into the draft", async () => {
    const { draft } = await draftOf("examples/wide-cp932/export.csv");
    for (const personal of ["健診 太郎", "K000101", "ｹﾝｼﾝ", "S45.3.5", "06131111", "ｻｸﾗ1", "検診 花子"]) {
      expect(draft).not.toContain(personal);
    }
  });
});

describe("kenshin map suggest on a messy export", () => {
  it("semicolons, a banner, abbreviations, an unknown column; draft accepted by map check", async () => {
    const csv =
      "出力日;2025-07-01\r\n" +
      "患者ID;健診日;ＴＧ;Hb;メモ;ECG;性\r\n" +
      "P1;2025/07/01;１２０;13.5;x;WNL;M\r\n" +
      "P2;2025/07/01;98;12.1;;心房細動;F\r\n";
    const s = suggestMapping(Buffer.from(csv), ref.dictionary, ref.thesaurus);
    expect(s.source).toMatchObject({ delimiter: ";", skipLines: 1, encoding: "utf-8" });
    const items: Record<string, string | undefined> = Object.fromEntries(
      s.fields.map((f) => [f.columns[0] ?? "", f.item?.key]),
    );
    expect(items).toEqual({
      患者ID: "examinee-id",
      健診日: "exam-date",
      ＴＧ: "triglycerides",
      Hb: "hemoglobin",
      ECG: "ecg-finding",
      性: "sex",
    });
    expect(s.unplacedColumns.map((u) => u.column)).toEqual(["メモ"]);
    const draft = renderDraft(s, { name: "x", sourceName: "x.csv" });
    const checked = checkMapping(parseMapping(draft), ref.dictionary, ref.thesaurus);
    const { summary } = await runConvert(csv, checked);
    expect(summary.counts.recordsOut).toBe(2);
  });
});

describe("the suggestion report", () => {
  it("gives each rule its item, confidence, shape and unplaced values", async () => {
    const s = suggestMapping(await readFile("examples/wide-cp932/export.csv"), ref.dictionary, ref.thesaurus);
    const report = suggestionReport(s);
    const kind = report.rules.find((r) => r.columns?.[0] === "健診区分");
    expect(kind).toMatchObject({ item: "checkup-kind", shape: "code", unplacedValues: ["1", "2"] });
    expect(kind?.confidence).toBeLessThan(0.8);
    const date = report.rules.find((r) => r.columns?.[0] === "受診日");
    expect(date?.dateStyles).toEqual(expect.arrayContaining(["和暦(略号 R7.6.2)", "和暦(漢字)"]));
    expect(report.rules.every((r) => r.confidence >= 0 && r.confidence <= 1)).toBe(true);
    expect(JSON.stringify(report)).not.toContain("健診 太郎");
  });
});
