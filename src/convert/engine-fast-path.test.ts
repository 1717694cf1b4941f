import fc from "fast-check";
import iconv from "iconv-lite";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_DICTIONARY_PATH, loadDictionary, type Dictionary } from "../format/dictionary.js";
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

const COLUMNS = ["ID", "日付", "性別", "身長", "体重", "心電図", "所見"];

/** `readsLast: false` leaves the last column unread, so the fast path only counts it (`skipAfter`). */
function mapping(source: string, readsLast = true): CheckedMapping {
  const yaml = `
format: kenshin-mapping
version: 1
name: fast-path property
layout: wide
source: { ${source} }
codeTables: { sex: { "1": 男性, "2": 女性 } }
fields:
  - { item: examinee-id, column: ID }
  - { item: exam-date, column: 日付 }
  - { item: sex, column: 性別, codes: sex }
  - { item: height, column: 身長 }
  - { item: weight, column: 体重 }
  - { item: ecg-finding, column: 心電図, thesaurus: ecg }
${readsLast ? "  - { item: doctor-judgement, column: 所見 }" : ""}
  # Inputs of every computed item (age, and eGFR from age, sex and creatinine), read from columns
  # already there, so the reused record of the fast path meets each record rule's writes.
  - { item: birth-date, column: 日付 }
  - { item: creatinine, column: 体重 }
computed: [age, bmi, egfr]
presence: [{ item: ecg-presence, from: ecg-finding }]
`;
  return checkMapping(parseMapping(yaml), dictionary, thesaurus);
}

interface Outcome {
  readonly output: Buffer;
  readonly summary: Omit<ConvertSummary, "issueCounts"> & { issueCounts: unknown };
}

async function run(
  bytes: Uint8Array,
  cuts: readonly number[],
  checked: CheckedMapping,
  encoding: OutputEncoding,
  referencePath: boolean,
): Promise<Outcome | { readonly fatal: string }> {
  const parts: Uint8Array[] = [];
  try {
    const summary = await convert(
      splitAt(bytes, cuts),
      // A copy of each chunk: the engine may then write the next output into the same memory.
      { releasesChunks: true, write: (c) => void parts.push(Buffer.from(c)) },
      { checked, encoding, referencePath },
    );
    return { output: Buffer.concat(parts), summary: { ...summary, issueCounts: [...summary.issueCounts] } };
  } catch (error) {
    return { fatal: (error as { code?: string }).code ?? String(error) };
  }
}

/** Field texts that exercise the fast path's edges: kanji, full-width digits, white space, quotes,
 * delimiters of other mappings, long fields, CP932-unencodable text, and stray bytes. */
const fieldText = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("A1", "R7.4.1", "2025/04/02", "1", "2", "170.0", "６５．５", "") },
  { weight: 3, arbitrary: fc.constantFrom("異常なし", "洞性頻脈", "ＰＶＣ", "ｹﾝｼﾝ", "表示", "ソ", "―") },
  { weight: 2, arbitrary: fc.constantFrom(" ", "\u3000", "  1 ", "\t", "=1+1", "a|b", "x;y", "\uFFFD") },
  { weight: 2, arbitrary: fc.constantFrom('"q"', '"a,b"', '"x""y"', 'ab"c', '"\r\n"', '"open') },
  { weight: 1, arbitrary: fc.constantFrom("\r", "\n", "\r\n", "𠮷", "ä", "€") },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("x".repeat(1100), "漢".repeat(600), "漢".repeat(1100), "y".repeat(1024)),
  },
);

/** Mostly well-formed rows (so records get written and their text compared), some ragged or odd. */
const row = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom("A1", "B22", '"Q3"'),
        fc.constantFrom("R7.4.1", "2025/04/02", '"H30.1.2"'),
        fc.array(fc.option(fieldText, { freq: 2 }), { minLength: 5, maxLength: 5 }),
      )
      .map(([id, date, rest]) => [
        id,
        date,
        ...rest.map((f, i) => f ?? ["1", "170.5", "６５", "洞性頻脈", "所見あり"][i] ?? ""),
      ]),
  },
  { weight: 1, arbitrary: fc.array(fieldText, { minLength: 0, maxLength: 10 }) },
);
const lineBreak = fc.constantFrom("\r\n", "\n", "\r", "\r\n");

const sourceOptions = fc.record({
  encoding: fc.constantFrom("cp932", "utf-8", "auto"),
  delimiter: fc.constantFrom(",", "|", ";"),
  quote: fc.constantFrom('"', "none"),
  skipLines: fc.constantFrom(0, 0, 1, 2),
  maxColumns: fc.constantFrom(10_000, 8),
  allowTrailingEmptyColumns: fc.boolean(),
  readsLast: fc.boolean(),
});

/** Bytes inserted at random places: CP932 lead bytes alone, UTF-8 fragments, a BOM. */
const strayBytes = fc.array(
  fc.record({
    at: fc.nat(),
    bytes: fc.constantFrom([0x81], [0x82, 0x2c], [0xe3, 0x81], [0xff], [0xef, 0xbb, 0xbf], [0x80], [0xfd]),
  }),
  { maxLength: 3 },
);

function encodeFile(text: string, encoding: string): Buffer {
  return encoding === "cp932" ? iconv.encode(text, "cp932") : Buffer.from(text, "utf8");
}

describe("the byte-level fast path agrees with the text reference path", () => {
  it("on random exports, options and chunkings: same output bytes, issues, counts and hashes", async () => {
    await fc.assert(
      fc.asyncProperty(
        sourceOptions,
        fc.array(fc.tuple(row, lineBreak), { maxLength: 12 }),
        strayBytes,
        fc.array(fc.nat(4000), { maxLength: 8 }),
        fc.constantFrom<OutputEncoding>("utf-8", "cp932"),
        async (src, rows, stray, cuts, outEncoding) => {
          const d = src.delimiter;
          const banner = Array.from({ length: src.skipLines }, (_, i) => `banner ${i}, "x\r\n`).join("");
          const body = rows.map(([fields, br]) => fields.join(d) + br).join("");
          const text = `${banner}${COLUMNS.join(d)}\r\n${body}`;
          let bytes = encodeFile(text, src.encoding === "cp932" ? "cp932" : "utf-8");
          for (const s of stray) {
            const at = s.at % (bytes.length + 1);
            bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(s.bytes), bytes.subarray(at)]);
          }
          const quote = src.quote === "none" ? `quote: none` : `quote: '"'`;
          const checked = mapping(
            `encoding: ${src.encoding}, delimiter: "${d}", ${quote}, skipLines: ${src.skipLines}, ` +
              `maxFieldLength: 1024, maxColumns: ${src.maxColumns}, ` +
              `allowTrailingEmptyColumns: ${src.allowTrailingEmptyColumns}`,
            src.readsLast,
          );
          const reference = await run(bytes, cuts, checked, outEncoding, true);
          const fast = await run(bytes, cuts, checked, outEncoding, false);
          expect(fast).toEqual(reference);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("5,000 rows (past the field memos' first window): same result as the reference path", async () => {
    // Columns whose values recur (memoised, issues and all) beside columns of unique values (whose memo
    // turns itself off after its first window of look-ups), so both paths of the assembler run.
    const pick = <T>(xs: readonly T[], n: number): T => xs[n % xs.length] as T;
    const lines = [COLUMNS.join(",")];
    for (let i = 0; i < 5000; i++) {
      lines.push(
        [
          `A${i}`,
          pick(["R7.4.1", "2025/04/02", "H30.2.30", "R7.4.", "令和7年4月3日"], i * 7),
          pick(["1", "2", "3", "", "１"], i * 3),
          pick(["170.0", "１６０", "abc", "999", "160.25", "<50", ""], i * 5),
          i % 11 === 0 ? `${40 + (i % 47)}.${i % 10}` : pick(["65.0", "0", "50"], i),
          pick(["洞性頻脈", "異常なし", "ＰＶＣ", "未知の所見", ""], i * 13),
          i % 3 === 0 ? `所見${i}` : "=1+1",
        ].join(","),
      );
    }
    const bytes = iconv.encode(`${lines.join("\r\n")}\r\n`, "cp932");
    // The last column unread: "=1+1" is only counted, "所見N" (not ASCII) makes the line be read whole.
    const checked = mapping("encoding: cp932", false);
    const cuts = [1000, 65_536, 65_537, 100_000];
    const reference = await run(bytes, cuts, checked, "cp932", true);
    const fast = await run(bytes, cuts, checked, "cp932", false);
    if ("fatal" in fast || "fatal" in reference) throw new Error("no fatal error expected");
    // Compared as bytes and JSON (a deep equality of thousands of issues is slow).
    expect(fast.output.equals(reference.output)).toBe(true);
    expect(fast.summary.counts.recordsOut).toBeGreaterThan(1000);
    expect(fast.summary.issuesTotal).toBeGreaterThan(5000);
    expect(JSON.stringify(fast.summary)).toBe(JSON.stringify(reference.summary));
  });

  it("fed one byte at a time: same result as the reference path", async () => {
    const text =
      `${COLUMNS.join(",")}\r\n` +
      "A1,R7.4.1,1,170.0,65.0,洞性頻脈,異常なし\r\n" +
      'A2,2025/04/02,2,１６０,50,"異常なし",\r' +
      "A3,R7.4.3,1,160,50,ＰＶＣ,表\n" +
      "A4,R7.4.4,3,160,50,,\r\n\r\n" +
      ",,,,,,\r\n";
    const bytes = iconv.encode(text, "cp932");
    const cuts = Array.from({ length: bytes.length }, (_, i) => i);
    const checked = mapping("encoding: cp932");
    const reference = await run(bytes, cuts, checked, "cp932", true);
    const fast = await run(bytes, cuts, checked, "cp932", false);
    expect("fatal" in fast).toBe(false);
    expect(fast).toEqual(reference);
  });
});
