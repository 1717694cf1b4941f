import fc from "fast-check";
import iconv from "iconv-lite";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_DICTIONARY_PATH, loadDictionary, type Dictionary } from "../format/dictionary.js";
import { recordHashesOf, sha256Hex } from "../format/hash.js";
import type { OutputEncoding } from "../format/output-encoding.js";
import { convert, type ConvertSummary } from "./engine.js";
import { parseMapping } from "./mapping.js";
import { checkMapping, type CheckedMapping } from "./mapping-check.js";
import { DEFAULT_THESAURUS_PATH, loadThesaurus, type Thesaurus } from "./thesaurus.js";
import { splitAt } from "../../test/support/chunks.js";

let dictionary: Dictionary;
let thesaurus: Thesaurus;
beforeAll(async () => {
  [dictionary, thesaurus] = await Promise.all([
    loadDictionary(DEFAULT_DICTIONARY_PATH),
    loadThesaurus(DEFAULT_THESAURUS_PATH),
  ]);
});

const wideMapping = (extra = "") => `
format: kenshin-mapping
version: 1
name: test
layout: wide
source: { encoding: utf-8${extra} }
codeTables: { sex: { "1": 男性, "2": 女性 } }
fields:
  - { item: examinee-id, column: ID }
  - { item: exam-date, column: 日付 }
  - { item: sex, column: 性別, codes: sex }
  - { item: height, column: 身長 }
  - { item: weight, column: 体重 }
  - { item: ecg-finding, column: 心電図, thesaurus: ecg }
  - { item: doctor-judgement, column: 所見 }
computed: [bmi]
presence: [{ item: ecg-presence, from: ecg-finding }]
`;

function check(yaml: string): CheckedMapping {
  return checkMapping(parseMapping(yaml), dictionary, thesaurus);
}

async function run(
  input: Uint8Array | string,
  checked: CheckedMapping,
  options: { chunks?: number[]; encoding?: OutputEncoding } = {},
): Promise<{ summary: ConvertSummary; output: Buffer }> {
  const bytes = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  const chunks = splitAt(bytes, options.chunks ?? []);
  const parts: Uint8Array[] = [];
  const summary = await convert(
    chunks,
    { write: (c) => void parts.push(c) },
    { checked, encoding: options.encoding ?? "utf-8" },
  );
  return { summary, output: Buffer.concat(parts) };
}

const HEADER = "ID,日付,性別,身長,体重,心電図,所見\r\n";

describe("convert (wide)", () => {
  it("writes one record per row, computes BMI and derives 所見の有無 from the finding text", async () => {
    const { summary, output } = await run(
      HEADER + "A1,R7.4.1,1,170.0,65.0,洞性頻脈,異常なし\r\nA2,2025/04/02,2,160,50,異常なし,\r\n",
      check(wideMapping()),
    );
    expect(summary.counts).toMatchObject({ rowsIn: 2, recordsOut: 2, rowsRejected: 0 });
    const text = output.toString("utf8");
    expect(text.split("\r\n")).toHaveLength(4);
    expect(text).toContain(",,20250401,R7.4.1,A1,,");
    expect(text).toContain(",160.0,,50.0,,19.5,"); // re-formatting alone keeps no original
    expect(text).toContain("22.5,"); // BMI 65 / 1.7² = 22.49…
    expect(summary.output.sha256).toBe(sha256Hex(output));
    expect(summary.recordHashes).toEqual(recordHashesOf(output));
  });

  it("when the key items are missing → RECORD_KEY_MISSING rejects the row and counts reconcile", async () => {
    const { summary } = await run(
      HEADER + ",R7.4.1,1,170,65,,\r\nA2,R7.4.1,1,170,65,,\r\n",
      check(wideMapping()),
    );
    expect(summary.counts).toMatchObject({ rowsIn: 2, recordsOut: 1, rowsRejected: 1, recordsRejected: 1 });
    expect(summary.issues.map((i) => i.code)).toContain("RECORD_KEY_MISSING");
  });

  it("when a row has fewer columns → SOURCE_RAGGED_ROW, and a trailing delimiter is refused unless allowed", async () => {
    const input = HEADER + "A1,R7.4.1,1\r\nA2,R7.4.1,1,170,65,,,\r\n";
    const strict = await run(input, check(wideMapping()));
    expect(strict.summary.issues.map((i) => i.code)).toEqual(["SOURCE_RAGGED_ROW", "SOURCE_RAGGED_ROW"]);
    const lenient = await run(input, check(wideMapping(", allowTrailingEmptyColumns: true")));
    expect(lenient.summary.counts.recordsOut).toBe(1);
  });

  it("when a value is over its byte limit → VALUE_TOO_LONG and the record is not written (never cut)", async () => {
    const long = "あ".repeat(200); // 600 bytes in UTF-8, 400 in CP932
    const utf8 = await run(HEADER + `A1,R7.4.1,1,170,65,,${long}\r\n`, check(wideMapping()));
    expect(utf8.summary.issues.map((i) => i.code)).toEqual(["VALUE_TOO_LONG"]);
    expect(utf8.summary.counts.recordsOut).toBe(0);
    const cp932 = await run(HEADER + `A1,R7.4.1,1,170,65,,${long}\r\n`, check(wideMapping()), {
      encoding: "cp932",
    });
    expect(cp932.summary.counts.recordsOut).toBe(1);
  });

  it("neutralises formula-like text and keeps what the source wrote", async () => {
    const { output } = await run(HEADER + "A1,R7.4.1,1,170,65,,=HYPERLINK(1)\r\n", check(wideMapping()));
    expect(output.toString("utf8")).toContain("'=HYPERLINK(1),'=HYPERLINK(1)");
  });

  it("when CP932 output cannot represent a character → VALUE_NOT_ENCODABLE", async () => {
    const { summary } = await run(HEADER + "A1,R7.4.1,1,170,65,,𠮷野家\r\n", check(wideMapping()), {
      encoding: "cp932",
    });
    expect(summary.issues.map((i) => i.code)).toEqual(["VALUE_NOT_ENCODABLE"]);
  });

  it("when the mapping names a column the file lacks → MAP_UNKNOWN_COLUMN before any record", async () => {
    const parts: Uint8Array[] = [];
    const checked = check(wideMapping());
    await expect(
      convert(
        [Buffer.from("ID,日付\r\nA1,R7.4.1\r\n")],
        { write: (c) => void parts.push(c) },
        { checked, encoding: "utf-8" },
      ),
    ).rejects.toMatchObject({ code: "MAP_UNKNOWN_COLUMN" });
    expect(parts).toEqual([]);
  });

  it("when the file is CP932 but declared UTF-8 → SOURCE_DECODE_ERROR per row, never a crash", async () => {
    const byPosition = wideMapping(", header: false")
      .replace("column: ID", 'column: "#1"')
      .replace("column: 日付", 'column: "#2"')
      .replace("column: 性別", 'column: "#3"')
      .replace("column: 身長", 'column: "#4"')
      .replace("column: 体重", 'column: "#5"')
      .replace("column: 心電図", 'column: "#6"')
      .replace("column: 所見", 'column: "#7"');
    const bytes = iconv.encode("A1,R7.4.1,1,170,65,洞性頻脈,所見あり\r\nA2,R7.4.1,2,150,45,,\r\n", "cp932");
    const { summary } = await run(bytes, check(byPosition));
    expect(summary.issues.map((i) => i.code)).toEqual(["SOURCE_DECODE_ERROR"]);
    expect(summary.counts).toMatchObject({ rowsIn: 2, recordsOut: 1, rowsRejected: 1 });
  });

  it("when a field is 10 MB → SOURCE_FIELD_TOO_LARGE for that row and the rest converts", async () => {
    const big = "x".repeat(10 * 1024 * 1024);
    const { summary } = await run(
      HEADER + `A1,R7.4.1,1,170,65,,"${big}"\r\nA2,R7.4.1,1,170,65,,\r\n`,
      check(wideMapping()),
    );
    expect(summary.issues.map((i) => i.code)).toEqual(["SOURCE_FIELD_TOO_LARGE"]);
    expect(summary.counts).toMatchObject({ rowsIn: 2, recordsOut: 1, rowsRejected: 1 });
  });

  it("when a quote is never closed → SOURCE_UNBALANCED_QUOTE for that row and later rows convert", async () => {
    const { summary } = await run(
      HEADER + `A1,R7.4.1,1,170,65,,"oops\r\nA2,R7.4.1,1,170,65,,\r\n`,
      check(wideMapping()),
    );
    expect(summary.issues.map((i) => i.code)).toEqual(["SOURCE_UNBALANCED_QUOTE"]);
    expect(summary.counts.recordsOut).toBe(1);
  });

  it("gives byte-identical output however the input is chunked", async () => {
    const input = Buffer.from(
      HEADER +
        'A1,R7.4.1,1,１７０．５,65,"洞性頻脈、ＰＶＣ",異常なし\r\nA2,H30.1.1,2,160,50,,"改行\r\nあり"\r\n,,\r\n',
    );
    const checked = check(wideMapping());
    const whole = await run(input, checked);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(input.length), { maxLength: 12 }), async (chunks) => {
        const cut = await run(input, checked, { chunks });
        expect(cut.output).toEqual(whole.output);
        expect(cut.summary.issues).toEqual(whole.summary.issues);
      }),
      { numRuns: 100 },
    );
  });

  it("never crashes on random bytes: either a coded fatal error or coded issues with reconciled counts", async () => {
    const checked = check(wideMapping());
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), async (noise) => {
        const input = Buffer.concat([Buffer.from(HEADER), noise]);
        const { summary } = await run(input, checked);
        const c = summary.counts;
        expect(c.rowsIn).toBe(c.rowsUsed + c.rowsRejected + c.rowsIgnored);
        for (const i of summary.issues) expect(i.code).toMatch(/^[A-Z_]+$/);
      }),
      { numRuns: 300 },
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 500 }), async (noise) => {
        try {
          await run(noise, checked);
        } catch (error) {
          expect(error).toMatchObject({ code: expect.stringMatching(/^(MAP_|CONVERT_)/) as unknown });
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("convert (long)", () => {
  const longMapping = (sorted: boolean) => `
format: kenshin-mapping
version: 1
name: long test
layout: long
source: { encoding: utf-8 }
fields:
  - { item: examinee-id, column: ID }
  - { item: exam-date, column: 日付 }
long:
  visitKey: [ID, 日付]
  itemColumn: コード
  valueColumn: 値
  sorted: ${sorted}
  items:
    H: { item: height }
    W: { item: weight }
    E: { item: ecg-finding, thesaurus: ecg }
computed: [bmi]
`;
  const LONG_HEADER = "ID,日付,コード,値\n";

  it("pivots unsorted rows into one record per visit in first-seen order", async () => {
    const { summary, output } = await run(
      LONG_HEADER + "B,20250401,H,160\nA,20250401,H,170\nB,20250401,W,50\nA,20250401,W,65\nA,20250401,X,1\n",
      check(longMapping(false)),
    );
    expect(summary.counts).toMatchObject({ rowsIn: 5, rowsUsed: 4, rowsIgnored: 1, recordsOut: 2 });
    const lines = output.toString("utf8").split("\r\n");
    expect(lines[1]).toMatch(/^,,20250401,,B,/);
    expect(lines[2]).toMatch(/^,,20250401,,A,/);
    expect(summary.issues.map((i) => i.code)).toEqual(["CHECK_LONG_ITEM_UNMAPPED"]);
  });

  it("when declared sorted but a visit comes back → RECORD_UNSORTED for those rows", async () => {
    const { summary } = await run(LONG_HEADER + "A,1,H,170\nB,1,H,160\nA,1,W,65\n", check(longMapping(true)));
    expect(summary.issues.map((i) => i.code)).toContain("RECORD_UNSORTED");
    const c = summary.counts;
    expect(c.rowsIn).toBe(c.rowsUsed + c.rowsRejected + c.rowsIgnored);
  });

  it("converts 1,000,000 unsorted rows", async () => {
    const visits = 50_000;
    const codes = ["H", "W", "E"];
    const lines: string[] = [LONG_HEADER];
    let rows = 0;
    // 20 rows per visit (repeated results of identical value are one value), visits interleaved.
    for (let round = 0; round < 20; round++) {
      for (let v = 0; v < visits; v++) {
        const code = codes[(v + round) % 3] ?? "H";
        const value = code === "H" ? "170.0" : code === "W" ? "65.0" : "異常なし";
        lines.push(`P${v},20250401,${code},${value}\n`);
        rows++;
      }
    }
    expect(rows).toBe(1_000_000);
    const { summary } = await run(lines.join(""), check(longMapping(false)));
    expect(summary.counts).toMatchObject({
      rowsIn: 1_000_000,
      rowsUsed: 1_000_000,
      recordsOut: visits,
      rowsRejected: 0,
    });
  }, 120_000);
});
