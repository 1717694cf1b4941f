import iconv from "iconv-lite";
import { beforeAll, describe, expect, it } from "vitest";
import { checkYaml, loadReference, runConvert, type Reference } from "../../test/support/convert-run.js";
import { convert } from "./engine.js";
import { buildReport, reportMetaOf } from "./report.js";

let ref: Reference;
beforeAll(async () => {
  ref = await loadReference();
});

const mapping = (extra = "", source = "encoding: utf-8") => `
format: kenshin-mapping
version: 1
name: test
revision: "2025-04 第2版"
layout: wide
source: { ${source} }
fields:
  - { item: examinee-id, column: ID }
  - { item: exam-date, column: 日付 }
  - { item: name, column: 氏名 }
  - { item: urine-glucose, column: 尿糖, codes: { "-": －, "+": ＋, "++": ２＋ } }
  - { item: ecg-finding, column: 心電図, thesaurus: ecg }
  - { item: doctor-judgement, column: 判断 }
presence: [{ item: ecg-presence, from: ecg-finding }]
${extra}`;

const HEADER = "ID,日付,氏名,尿糖,心電図,判断\r\n";
const codes = (s: { issues: readonly { code: string }[] }) => s.issues.map((i) => i.code);

describe("nothing silent: unmapped export columns", () => {
  it("lists every column no rule reads once, as info, and ignoreColumns marks them deliberate", async () => {
    const input =
      "ID,日付,氏名,尿糖,心電図,判断,メモ,予備\r\nA1,R7.4.1,健診 太郎,-,,,x,\r\nA2,R7.4.1,健診 次郎,-,,,y,\r\n";
    const { summary } = await runConvert(input, checkYaml(ref, mapping()));
    const unmapped = summary.issues.filter((i) => i.code === "SOURCE_COLUMN_UNMAPPED");
    expect(unmapped.map((i) => [i.severity, i.column, i.row])).toEqual([
      ["info", "メモ", 1],
      ["info", "予備", 1],
    ]);
    expect(summary.counts.recordsOut).toBe(2);
    const quiet = await runConvert(
      input,
      checkYaml(ref, mapping("", "encoding: utf-8, ignoreColumns: [メモ, 予備]")),
    );
    expect(codes(quiet.summary)).not.toContain("SOURCE_COLUMN_UNMAPPED");
  });
});

describe("nothing silent: the same examinee and visit more than once", () => {
  const three =
    HEADER +
    "A1,R7.4.1,健診 太郎,-,,\r\n" +
    "A1,2025-04-01,健診 太郎,+,,\r\n" +
    "A2,R7.4.1,健診 花子,-,,\r\n" +
    "A1,R7.4.1,健診 太郎,,,\r\n";

  it("is an error on every later record by default (the first is kept; counts reconcile)", async () => {
    const { summary, rows } = await runConvert(three, checkYaml(ref, mapping()));
    const dup = summary.issues.filter((i) => i.code === "RECORD_DUPLICATE_KEY");
    expect(dup.map((i) => [i.severity, i.row])).toEqual([
      ["error", 3],
      ["error", 5],
    ]);
    expect(dup[0]?.message).toContain("2 行目");
    expect(rows.map((r) => r["受診者番号"])).toEqual(["A1", "A2"]);
    expect(summary.counts).toMatchObject({ rowsIn: 4, rowsUsed: 2, rowsRejected: 2, recordsOut: 2 });
  });

  it("duplicates: merge fills empty fields from the other records and writes one record", async () => {
    const input =
      HEADER + "A1,R7.4.1,健診 太郎,-,,\r\nA2,R7.4.1,健診 花子,,,\r\nA1,R7.4.1,,,洞性頻脈,経過観察\r\n";
    const { summary, rows } = await runConvert(input, checkYaml(ref, mapping("duplicates: merge")));
    expect(codes(summary).filter((c) => c.startsWith("RECORD_"))).toEqual([]);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      受診者番号: "A1",
      氏名: "健診 太郎",
      尿糖: "－",
      心電図所見: "洞性頻脈",
      医師の判断: "経過観察",
    });
    expect(summary.counts).toMatchObject({ rowsIn: 3, rowsUsed: 3, recordsOut: 2 });
  });

  it("duplicates: merge with two different values for one item rejects the merged record", async () => {
    const { summary, rows } = await runConvert(three, checkYaml(ref, mapping("duplicates: merge")));
    const conflict = summary.issues.filter((i) => i.code === "RECORD_DUPLICATE_CONFLICT");
    expect(conflict.map((i) => [i.severity, i.item, i.row])).toEqual([["error", "urine-glucose", 2]]);
    expect(rows.map((r) => r["受診者番号"])).toEqual(["A2"]);
    expect(summary.counts).toMatchObject({ rowsIn: 4, rowsUsed: 1, rowsRejected: 3, recordsRejected: 1 });
  });
});

describe("nothing silent: multi-line cells", () => {
  it("a normal phrase with a parenthetical note on the next line stays normal, and the text is kept", async () => {
    const input = HEADER + 'A1,R7.4.1,健診 太郎,-,"異常なし\n（前回と変化なし）",\r\n';
    const { summary, rows } = await runConvert(input, checkYaml(ref, mapping()));
    expect(codes(summary)).toEqual([]);
    expect(rows[0]?.["心電図(所見の有無)"]).toBe("所見なし");
    expect(rows[0]?.["心電図所見(原本値)"]).toBe("異常なし\n（前回と変化なし）");
  });

  it("a finding with a note keeps its standard term; a second real finding on the next line counts", async () => {
    const input = HEADER + 'A1,R7.4.1,健診 太郎,-,"洞性頻脈(経過観察)\nST低下",\r\n';
    const { rows } = await runConvert(input, checkYaml(ref, mapping()));
    expect(rows[0]?.["心電図所見"]).toBe("洞性頻脈、ST低下");
    expect(rows[0]?.["心電図(所見の有無)"]).toBe("所見あり");
    expect(rows[0]?.["心電図所見(原本値)"]).toBe("洞性頻脈(経過観察)\nST低下");
  });

  it("free text keeps its line breaks", async () => {
    const input = HEADER + 'A1,R7.4.1,健診 太郎,-,,"経過観察\n半年後に再検"\r\n';
    const { rows } = await runConvert(input, checkYaml(ref, mapping()));
    expect(rows[0]?.["医師の判断"]).toBe("経過観察\n半年後に再検");
  });
});

describe("nothing silent: 外字 and glyphs", () => {
  it("a CP932 user-defined character (0xF040) is a warning: 〓 in the value, kept in the UTF-8 original", async () => {
    const head = iconv.encode(HEADER + "A1,R7.4.1,健診 ", "cp932");
    const tail = iconv.encode("郎,-,,\r\n", "cp932");
    const input = Buffer.concat([head, Buffer.from([0xf0, 0x40]), tail]);
    const checked = checkYaml(ref, mapping("", "encoding: cp932"));
    const utf8 = await runConvert(input, checked);
    const issue = utf8.summary.issues.find((i) => i.code === "SOURCE_PRIVATE_USE_CHAR");
    expect(issue).toMatchObject({ severity: "warning", item: "name", row: 2 });
    expect(utf8.rows[0]?.["氏名"]).toBe("健診 〓郎");
    expect(utf8.rows[0]?.["氏名(原本値)"]).toBe("健診 \ue000郎");
    const cp932 = await runConvert(input, checked, "cp932");
    expect(cp932.summary.counts.recordsOut).toBe(1);
    expect(cp932.rows[0]?.["氏名(原本値)"]).toBe("健診 〓郎");
  });
});

describe("nothing silent: the last row of 外字 (0xF941–0xF9FC, beyond iconv-lite's table)", () => {
  it("is a 外字 like the rest: 〓 with SOURCE_PRIVATE_USE_CHAR, the record written, no decode error", async () => {
    const head = iconv.encode(HEADER + "A1,R7.4.1,健診 ", "cp932");
    const tail = iconv.encode("郎,-,,\r\n", "cp932");
    for (const trail of [0x41, 0x7e, 0x80, 0xa1, 0xfc]) {
      const input = Buffer.concat([head, Buffer.from([0xf9, trail]), tail]);
      const checked = checkYaml(ref, mapping("", "encoding: cp932"));
      const utf8 = await runConvert(input, checked);
      expect(utf8.summary.issues.map((i) => i.code)).not.toContain("SOURCE_DECODE_ERROR");
      expect(utf8.summary.issues.find((i) => i.code === "SOURCE_PRIVATE_USE_CHAR")).toMatchObject({
        severity: "warning",
        item: "name",
        row: 2,
        message: expect.stringContaining("外字") as unknown,
      });
      expect(utf8.summary.counts.recordsOut).toBe(1);
      expect(utf8.rows[0]?.["氏名"]).toBe("健診 〓郎");
      const pua = 0xe69d + (trail < 0x80 ? trail - 0x41 : trail - 0x42);
      expect(utf8.rows[0]?.["氏名(原本値)"]).toBe(`健診 ${String.fromCharCode(pua)}郎`);
      // Before: iconv-lite read 0xF9 0x41 as U+FFFD + "A" — the row was rejected as a decode error.
      expect(iconv.decode(Buffer.from([0xf9, trail]), "cp932")).toContain("\ufffd");
    }
  });
});

describe("nothing silent: originals exactly as written", () => {
  it("sign and dipstick originals are written as they were; a real formula is guarded with a warning", async () => {
    const input = HEADER + "A1,R7.4.1,健診 太郎,++,,=1+1\r\nA2,R7.4.1,健診 花子,-,,-5\r\n";
    const { summary, rows } = await runConvert(input, checkYaml(ref, mapping()));
    expect(rows[0]?.["尿糖(原本値)"]).toBe("++");
    expect(rows[1]?.["尿糖(原本値)"]).toBe("-");
    expect(rows[1]?.["医師の判断"]).toBe("-5");
    expect(rows[0]?.["医師の判断"]).toBe("'=1+1");
    expect(rows[0]?.["医師の判断(原本値)"]).toBe("'=1+1");
    expect(summary.issues.filter((i) => i.code === "VALUE_FORMULA_NEUTRALISED")).toHaveLength(1);
  });

  it("an over-long original is cut at the field limit with a warning; the good record is written", async () => {
    const note = "あ".repeat(300); // > 512 bytes in UTF-8
    const input = HEADER + `A1,R7.4.1,健診 太郎,-,洞性頻脈(${note}),\r\n`;
    const { summary, rows } = await runConvert(input, checkYaml(ref, mapping()));
    expect(summary.issues.map((i) => [i.code, i.severity])).toEqual([
      ["VALUE_ORIGINAL_TRUNCATED", "warning"],
    ]);
    expect(rows[0]?.["心電図所見"]).toBe("洞性頻脈");
    const original = rows[0]?.["心電図所見(原本値)"] ?? "";
    expect(Buffer.byteLength(original)).toBeLessThanOrEqual(512);
    expect(original.startsWith("洞性頻脈(あ")).toBe(true);
  });
});

describe("messages", () => {
  it("a UTF-8 file whose mapping says cp932 → CONVERT_ENCODING_MISMATCH, not a missing column", async () => {
    const checked = checkYaml(ref, mapping("", "encoding: cp932"));
    await expect(
      convert(
        [Buffer.from(`${HEADER}A1,R7.4.1,健診 太郎,-,,\r\n`)],
        { write: () => undefined },
        {
          checked,
          encoding: "utf-8",
        },
      ),
    ).rejects.toMatchObject({ code: "CONVERT_ENCODING_MISMATCH", context: { likely: "utf-8" } });
  });

  it("an unknown column offers the closest header name", async () => {
    const checked = checkYaml(ref, mapping().replace("column: 氏名", "column: 氏 名前"));
    await expect(
      convert(
        [Buffer.from(`${HEADER}A1,R7.4.1,x,-,,\r\n`)],
        { write: () => undefined },
        {
          checked,
          encoding: "utf-8",
        },
      ),
    ).rejects.toMatchObject({
      code: "MAP_UNKNOWN_COLUMN",
    });
    await expect(
      convert(
        [Buffer.from(`${HEADER}A1,R7.4.1,x,-,,\r\n`)],
        { write: () => undefined },
        {
          checked,
          encoding: "utf-8",
        },
      ),
    ).rejects.toThrow(/もしかして「氏名」/);
  });

  it("an unknown item offers the closest dictionary key", () => {
    expect(() =>
      checkYaml(ref, mapping().replace("item: doctor-judgement", "item: doctor-judgment")),
    ).toThrow(/もしかして「doctor-judgement」/);
  });

  it("VALUE_CODE_UNKNOWN names the code", async () => {
    const { summary } = await runConvert(HEADER + "A1,R7.4.1,x,+++,,\r\n", checkYaml(ref, mapping()));
    const issue = summary.issues.find((i) => i.code === "VALUE_CODE_UNKNOWN");
    expect(issue?.message).toContain("「+++」");
  });

  it("the report records the dictionary, thesaurus and mapping versions", async () => {
    const checked = checkYaml(ref, mapping());
    const summary = await convert(
      [Buffer.from(HEADER)],
      { write: () => undefined },
      { checked, encoding: "utf-8" },
    );
    const report = buildReport(summary, reportMetaOf(checked, "ab".repeat(32)));
    expect(report.mapping).toEqual({ name: "test", sha256: "ab".repeat(32), revision: "2025-04 第2版" });
    expect(report.dictionary).toEqual({ name: ref.dictionary.name, version: ref.dictionary.version });
    expect(report.thesaurus).toEqual({ name: ref.thesaurus.name, version: ref.thesaurus.version });
  });
});

describe("item codes in the output", () => {
  it("--code-header adds a JLAC10 row under the header; record hashes skip it", async () => {
    const { recordHashesOf } = await import("../format/hash.js");
    const checked = checkYaml(ref, mapping());
    const parts: Uint8Array[] = [];
    const summary = await convert(
      [Buffer.from(`${HEADER}A1,R7.4.1,健診 太郎,-,,\r\nA2,R7.4.1,健診 花子,+,,\r\n`)],
      { write: (c) => void parts.push(c) },
      { checked, encoding: "utf-8", codeHeader: true },
    );
    const text = Buffer.concat(parts).toString("utf8");
    const [header, codes] = text.split("\r\n");
    const names = header?.split(",") ?? [];
    const cells = codes?.split(",") ?? [];
    expect(cells[0]).toBe("JLAC10");
    expect(cells[names.indexOf("尿糖")]).toBe("1A020000000191111");
    expect(cells[names.indexOf("尿糖(原本値)")]).toBe("");
    expect(cells[names.indexOf("氏名")]).toBe("");
    expect(recordHashesOf(Buffer.concat(parts))).toEqual(summary.recordHashes);
    expect(summary.recordHashes).toHaveLength(2);
  });
});
