/**
 * The browser UI's pure pieces of the working day, run in Node: one date format in Japan time (with the
 * era on request) whatever the machine's zone, file names that say whose file it is and are safe on
 * Windows, Excel copies, the issue CSV (RFC 4180 quoting, formulas neutralised), and the advice before
 * and after an upload.
 */
import { describe, expect, it } from "vitest";
import { copyFor, decodeStandard, downloadFileName } from "../../web/src/download-copies.js";
import { fileDate, formatDate, formatDateTime, warekiYear } from "../../web/src/format.js";
import { issueAdvice, issueName } from "../../web/src/issue-codes.js";
import { issueColumn, issuesCsv } from "../../web/src/issues-csv.js";
import { notCsvReason, withoutInternalPath } from "../../web/src/upload-advice.js";
import type { Issue } from "../../web/src/types.js";

describe("dates", () => {
  it("are 「yyyy/mm/dd hh:mm」 in Japan time, in both languages, with the era only on request", () => {
    // 2026-06-02 15:15 UTC is 2026-06-03 00:15 in Japan.
    const iso = "2026-06-02T15:15:00.000Z";
    expect(formatDateTime(iso, "ja")).toBe("2026/06/03 00:15");
    expect(formatDateTime(iso, "en")).toBe("2026/06/03 00:15");
    expect(formatDateTime(iso, "ja", true)).toBe("2026/06/03 (令和8年) 00:15");
    expect(formatDate(iso, "ja")).toBe("2026/06/03");
    expect(formatDate("2019-04-30T00:00:00+09:00", "ja", true)).toBe("2019/04/30 (平成31年)");
    expect(formatDate("2019-05-01T00:00:00+09:00", "ja", true)).toBe("2019/05/01 (令和元年)");
    expect(warekiYear(new Date("1989-01-08T00:00:00+09:00"))).toBe("平成元年");
    expect(fileDate(iso)).toBe("20260603");
  });

  it("say 「—」 for a missing or unreadable date", () => {
    expect(formatDateTime(null, "ja")).toBe("—");
    expect(formatDate("not a date", "ja")).toBe("—");
  });
});

describe("download names and copies", () => {
  it("name files after sender, receiver and date, with characters Windows refuses replaced", () => {
    expect(
      downloadFileName({
        prefix: "健診結果",
        sender: "さくら健診センター (デモ)",
        receiver: 'A/B:C*D?"E"<F>|G',
        date: "20260603",
      }),
    ).toBe("健診結果_さくら健診センター_(デモ)_A_B_C_D_E_F_G_20260603.csv");
    expect(downloadFileName({ prefix: "p", sender: "  ", receiver: "r", date: "1", suffix: "Excel用" })).toBe(
      "p___r_1_Excel用.csv",
    );
    const long = "健".repeat(100);
    expect(downloadFileName({ prefix: "p", sender: long, receiver: "r", date: "1" })).toBe(
      `p_${"健".repeat(40)}_r_1.csv`,
    );
  });

  it("copies a UTF-8 standard CSV for Excel as CP932 or UTF-8 with BOM, and refuses what CP932 lacks", () => {
    const text = "受診日,氏名\r\n2026/06/03,ｶﾅ\r\n";
    const utf8 = new TextEncoder().encode(text);
    expect(copyFor(utf8, "standard")).toBe(utf8);
    const cp932 = copyFor(utf8, "cp932");
    expect(cp932 && new TextDecoder("shift_jis").decode(cp932)).toBe(text);
    const bom = copyFor(utf8, "utf8-bom");
    expect(Array.from((bom ?? new Uint8Array()).subarray(0, 3))).toEqual([0xef, 0xbb, 0xbf]);
    expect(copyFor(new TextEncoder().encode("𠮷野家\r\n"), "cp932")).toBeUndefined();
    // A CP932 standard (a mapping may ask for it) is kept as is for CP932, and re-encoded for BOM.
    expect(cp932 && decodeStandard(cp932).encoding).toBe("cp932");
    expect(cp932 && copyFor(cp932, "cp932")).toBe(cp932);
    expect(cp932 && new TextDecoder().decode(copyFor(cp932, "utf8-bom")?.subarray(3))).toBe(text);
  });
});

describe("the issue list", () => {
  const issues: Issue[] = [
    {
      severity: "error",
      code: "RECORD_KEY_MISSING",
      row: 9,
      item: "exam-date",
      message: "実施日がないため記録を作れません",
    },
    { severity: "warning", code: "VALUE_ROUNDED", row: 3, column: '体重,"kg"', message: "=1+1" },
    { severity: "warning", code: "SOMETHING_NEW", row: 0, message: "x" },
  ];
  const labels = { "exam-date": { name: "実施日", columns: ["受診日"] } };

  it("points an item-level issue at the export's column, and names codes in words (unknown codes as is)", () => {
    expect(issueColumn(issues[0] as Issue, labels)).toBe("受診日");
    expect(issueName("RECORD_KEY_MISSING", "ja")).toBe("受診者や受診日を特定する値がありません");
    expect(issueAdvice("RECORD_KEY_MISSING", "en")).toContain("export again");
    expect(issueName("SOMETHING_NEW", "ja")).toBe("SOMETHING_NEW");
    expect(issueAdvice("SOMETHING_NEW", "ja")).toBe("");
  });

  it("is a CSV with quoting per RFC 4180 and formula-looking cells neutralised", () => {
    const lines = issuesCsv(issues, labels, "ja").split("\r\n");
    expect(lines[0]).toBe("行,重要度,指摘,列,項目,内容,直し方,コード");
    expect(lines[1]).toMatch(
      /^9,エラー,受診者や受診日を特定する値がありません,受診日,実施日,実施日がないため/,
    );
    expect(lines[2]).toContain('"体重,""kg"""');
    expect(lines[2]).toContain(",'=1+1,");
    expect(lines[3]?.startsWith(",警告,SOMETHING_NEW,,,x,,SOMETHING_NEW")).toBe(true);
    expect(lines.at(-1)).toBe("");
  });
});

describe("before and after an upload", () => {
  const file = (bytes: Uint8Array, name: string) =>
    Object.assign(new Blob([new Uint8Array(bytes)]), { name });

  it("stops images, PDFs, Excel workbooks and empty files before sealing, lets a CSV through", async () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]);
    expect(await notCsvReason(file(png, "photo.png"))).toBe("sendNotCsv");
    expect(await notCsvReason(file(Uint8Array.from([0x50, 0x4b, 3, 4, 0]), "book.xlsx"))).toBe("sendExcel");
    expect(await notCsvReason(file(Uint8Array.from([0xd0, 0xcf, 0x11, 0xe0]), "old.dat"))).toBe("sendExcel");
    expect(await notCsvReason(file(new Uint8Array(), "empty.csv"))).toBe("sendEmpty");
    expect(
      await notCsvReason(file(new TextEncoder().encode("受診日,氏名\r\n"), "export.csv")),
    ).toBeUndefined();
  });

  it("drops internal mapping paths from the service's words", () => {
    expect(
      withoutInternalPath("ファイルを変換できません: 列「受診日」が見出し行にありません (fields[1])"),
    ).toBe("列「受診日」が見出し行にありません");
    expect(withoutInternalPath("見出し行が読めません (source.header)")).toBe("見出し行が読めません");
    expect(withoutInternalPath("列 (A) がありません")).toBe("列 (A) がありません");
    // The encoding hint's advice names a mapping key: for the office, not for the clerk.
    expect(
      withoutInternalPath(
        "見出し行に列「受診日」が見つかりません。ファイルは utf-8 のようですが cp932 として読みました (マッピングの source.encoding を utf-8 か auto にしてください)",
      ),
    ).toBe("見出し行に列「受診日」が見つかりません。ファイルは utf-8 のようですが cp932 として読みました");
  });
});
