import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import iconv from "iconv-lite";
import { describe, expect, it } from "vitest";
import type { DictionaryFile } from "./dictionary.js";
import { DEFAULT_DICTIONARY_PATH } from "./dictionary.js";
import { exportDictionaryTable, importDictionaryTable, TABLE_COLUMNS } from "./dictionary-import.js";
import { FormatError } from "./errors.js";

const OPTIONS = { name: "テスト辞書", version: "2.1.0" } as const;
const HEADER = TABLE_COLUMNS.join(",");
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

async function shipped(): Promise<DictionaryFile> {
  return JSON.parse(await readFile(fileURLToPath(DEFAULT_DICTIONARY_PATH), "utf8")) as DictionaryFile;
}

/** The context of the FormatError `fn` throws (and that its code is the import code). */
function importFailure(fn: () => unknown): Readonly<Record<string, unknown>> {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    expect(error.code).toBe("FORMAT_DICTIONARY_IMPORT_INVALID");
    return error.context;
  }
  throw new Error("expected FORMAT_DICTIONARY_IMPORT_INVALID, nothing was thrown");
}

const HEIGHT = "1,height,身長,身体計測,number,1,cm,50,300,,16,0,9N001000000000001,特定健康診査,";
const SEX = "2,sex,性別,受診者情報,code,,,,,男性|女性,8,0,,,";

describe("importDictionaryTable", () => {
  it("round-trips the shipped dictionary: JSON → CSV table → JSON is equal", async () => {
    const file = await shipped();
    const table = exportDictionaryTable(file);
    expect(importDictionaryTable(utf8(table), { name: file.name, version: file.version })).toEqual(file);
  });

  it("round-trips the shipped dictionary through a CP932 table with a detected encoding", async () => {
    const file = await shipped();
    const bytes = iconv.encode(exportDictionaryTable(file), "cp932");
    expect(importDictionaryTable(bytes, { name: file.name, version: file.version })).toEqual(file);
  });

  it("reads Japanese type names, 可/不可 flags, full-width digits, a BOM and LF line ends", () => {
    const table = [
      `\uFEFF${HEADER}`,
      "１,height,身長,身体計測,数値,１,cm,50,300,,16,不可,,,",
      "2,ecg-finding,心電図所見,心電図,文字列,,,,,,512,可,,,",
      "3,exam-date,実施日,受診者情報,日付,,,,,,10,false,,,",
      "4,sex,性別,受診者情報,コード,,,,,男性 | 女性,8,0,,,",
    ].join("\n");
    const file = importDictionaryTable(utf8(table), OPTIONS);
    expect(file).toMatchObject({ format: "kenshin-dictionary", name: "テスト辞書", version: "2.1.0" });
    expect(file.items.map((i) => [i.no, i.type, i.multiple])).toEqual([
      [1, "number", false],
      [2, "text", true],
      [3, "date", false],
      [4, "code", false],
    ]);
    expect(file.items[3]?.terms).toEqual(["男性", "女性"]);
    expect(file.items[0]).not.toHaveProperty("terms");
  });

  it("accepts columns in any order, leaves out optional ones and skips blank rows", () => {
    const table = [
      "複数可,最大バイト,型,分類,標準名称,キー,項番",
      "0,10,date,受診者情報,実施日,exam-date,1",
      ",,,,,,",
    ];
    expect(importDictionaryTable(utf8(table.join("\r\n")), OPTIONS).items).toEqual([
      {
        no: 1,
        key: "exam-date",
        name: "実施日",
        category: "受診者情報",
        type: "date",
        maxBytes: 10,
        multiple: false,
      },
    ]);
  });

  it("reads quoted cells holding commas, quotes and line breaks", () => {
    const table = `${HEADER}\r\n1,note-item,備考項目,テスト,text,,,,,,512,0,,,"a,b ""c""\r\nd"\r\n`;
    expect(importDictionaryTable(utf8(table), OPTIONS).items[0]?.note).toBe('a,b "c"\r\nd');
  });

  it("keeps any note text through export and import (property)", () => {
    const note = fc
      .string({ unit: "grapheme", minLength: 1, maxLength: 40 })
      .map((s) => s.replaceAll("\uFEFF", ""))
      .filter((s) => s.trim() === s && s !== "");
    fc.assert(
      fc.property(note, (text) => {
        const file: DictionaryFile = {
          format: "kenshin-dictionary",
          version: "1.0.0",
          name: "p",
          items: [
            {
              no: 1,
              key: "a",
              name: "A",
              category: "c",
              type: "text",
              maxBytes: 512,
              multiple: false,
              note: text,
            },
          ],
        };
        const back = importDictionaryTable(utf8(exportDictionaryTable(file)), {
          name: "p",
          version: "1.0.0",
        });
        expect(back).toEqual(file);
      }),
      { numRuns: 200 },
    );
  });
});

describe("importDictionaryTable rejects bad tables naming the row and column", () => {
  const table = (...rows: string[]): Uint8Array => utf8([HEADER, ...rows].join("\r\n"));

  it("when 型 is not a known type → row and column 型", () => {
    expect(
      importFailure(() => importDictionaryTable(table(HEIGHT.replace("number", "float")), OPTIONS)),
    ).toEqual({
      row: 2,
      column: "型",
    });
  });

  it("when 複数可 is not a flag → column 複数可", () => {
    const row = SEX.replace(",8,0,", ",8,maybe,");
    expect(importFailure(() => importDictionaryTable(table(HEIGHT, row), OPTIONS))).toEqual({
      row: 3,
      column: "複数可",
    });
  });

  it("when 項番 is not an integer → column 項番", () => {
    expect(importFailure(() => importDictionaryTable(table(HEIGHT.replace(/^1,/, "1.5,")), OPTIONS))).toEqual(
      {
        row: 2,
        column: "項番",
      },
    );
  });

  it("when the key has capitals → column キー", () => {
    expect(
      importFailure(() => importDictionaryTable(table(HEIGHT.replace("height", "Height")), OPTIONS)),
    ).toEqual({
      row: 2,
      column: "キー",
    });
  });

  it("when only 下限 is given → column 上限", () => {
    expect(
      importFailure(() => importDictionaryTable(table(HEIGHT.replace(",50,300,", ",50,,")), OPTIONS)),
    ).toEqual({
      row: 2,
      column: "上限",
    });
  });

  it("when 最大バイト exceeds 512 → column 最大バイト", () => {
    expect(
      importFailure(() => importDictionaryTable(table(HEIGHT.replace(",16,", ",600,")), OPTIONS)),
    ).toEqual({
      row: 2,
      column: "最大バイト",
    });
  });

  it("when JLAC10 has 16 characters → column JLAC10", () => {
    const row = HEIGHT.replace("9N001000000000001", "9N00100000000001");
    expect(importFailure(() => importDictionaryTable(table(row), OPTIONS))).toEqual({
      row: 2,
      column: "JLAC10",
    });
  });

  it("when 選択肢 has an empty term → column 選択肢", () => {
    const row = SEX.replace("男性|女性", "男性||女性");
    expect(importFailure(() => importDictionaryTable(table(row), OPTIONS))).toEqual({
      row: 2,
      column: "選択肢",
    });
  });

  it("when a code item has no terms → the row (found by the dictionary check)", () => {
    const row = SEX.replace("男性|女性", "");
    expect(importFailure(() => importDictionaryTable(table(HEIGHT, row), OPTIONS))).toEqual({ row: 3 });
  });

  it("when a key repeats → the row of the second one", () => {
    const again = HEIGHT.replace(/^1,/, "3,").replace("身長", "身長2");
    expect(importFailure(() => importDictionaryTable(table(HEIGHT, SEX, again), OPTIONS))).toEqual({
      row: 4,
    });
  });

  it("when a row has more values than the header → that row", () => {
    expect(importFailure(() => importDictionaryTable(table(`${SEX},,,extra`), OPTIONS))).toEqual({ row: 2 });
  });

  it("when a quote is never closed → the row where it opens", () => {
    expect(importFailure(() => importDictionaryTable(table(HEIGHT, `${SEX}"open`), OPTIONS))).toMatchObject({
      row: 3,
    });
    expect(
      importFailure(() => importDictionaryTable(table(HEIGHT, SEX.replace("性別", '"性別\r\n')), OPTIONS)),
    ).toEqual({
      row: 3,
    });
  });

  it("when a header is unknown, repeated or missing → the header row and that column", () => {
    const bad = (header: string): Readonly<Record<string, unknown>> =>
      importFailure(() => importDictionaryTable(utf8(`${header}\r\n${HEIGHT}`), OPTIONS));
    expect(bad(`${HEADER},色`)).toEqual({ row: 1, column: "色" });
    expect(bad(`${HEADER},キー`)).toEqual({ row: 1, column: "キー" });
    expect(bad(HEADER.replace("最大バイト,", ""))).toEqual({ row: 1, column: "最大バイト" });
  });

  it("when the table is empty → row 1", () => {
    expect(importFailure(() => importDictionaryTable(new Uint8Array(), OPTIONS))).toEqual({ row: 1 });
  });

  it("when UTF-8 is demanded but the bytes are CP932 → coded failure, not mojibake", () => {
    const bytes = iconv.encode(`${HEADER}\r\n${SEX}\r\n`, "cp932");
    importFailure(() => importDictionaryTable(bytes, { ...OPTIONS, encoding: "utf-8" }));
    expect(importDictionaryTable(bytes, { ...OPTIONS, encoding: "cp932" }).items[0]?.terms).toEqual([
      "男性",
      "女性",
    ]);
  });

  it("when the version is not semver → coded failure", () => {
    importFailure(() => importDictionaryTable(table(HEIGHT), { name: "x", version: "v1" }));
  });
});
