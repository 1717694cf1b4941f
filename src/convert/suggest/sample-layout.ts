/**
 * The layout of an export sample, read before anything is matched: its encoding (UTF-8 unless it does
 * not decode as such: CP932), delimiter and banner lines, its first rows, and whether it is a 縦持ち
 * (one row per test code) export. Only the sample is read, and only SAMPLE_ROWS data rows of it.
 */
import { CsvTokenizer, type SourceRow } from "../csv-tokenizer.js";

/** Data rows looked at. */
export const SAMPLE_ROWS = 2000;

/** The delimiters a suggestion can propose. */
export type Delimiter = "," | "\t" | ";" | "|";

/** UTF-8 (with or without BOM) when the sample decodes as UTF-8, CP932 otherwise. */
export function detectEncoding(sample: Uint8Array): "utf-8" | "cp932" {
  if (sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) return "utf-8";
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(sample, { stream: true });
    return "utf-8";
  } catch {
    return "cp932";
  }
}

/** Delimiter and banner lines: the delimiter giving the most lines with the same (> 1) field count. */
export function detectDialect(text: string): {
  delimiter: Delimiter;
  skipLines: number;
} {
  const lines = text
    .split(/\r?\n/)
    .slice(0, 50)
    .filter((l, i, all) => l !== "" || i < all.length - 1);
  let best = { delimiter: "," as Delimiter, score: -1, skipLines: 0 };
  for (const d of [",", "\t", ";", "|"] as const) {
    const counts = lines.map((l) => l.split(d).length);
    const freq = new Map<number, number>();
    for (const c of counts) if (c > 1) freq.set(c, (freq.get(c) ?? 0) + 1);
    let mode = 0;
    let score = 0;
    for (const [c, f] of freq) if (f > score || (f === score && c > mode)) [mode, score] = [c, f];
    if (score > best.score) {
      const first = counts.findIndex((c) => c === mode);
      best = { delimiter: d, score, skipLines: Math.max(0, first) };
    }
  }
  return { delimiter: best.delimiter, skipLines: best.skipLines };
}

/** The sample's rows after the banner lines (at most SAMPLE_ROWS + 1 with the header), blank rows left out. */
export function tokenize(text: string, delimiter: string, skipLines: number): SourceRow[] {
  const rows: SourceRow[] = [];
  let rest = text;
  for (let i = 0; i < skipLines; i++) {
    const nl = rest.indexOf("\n");
    rest = nl < 0 ? "" : rest.slice(nl + 1);
  }
  const t = new CsvTokenizer(
    { delimiter, quote: '"', maxFieldLength: 1 << 20, maxColumns: 10_000, firstLine: skipLines + 1 },
    {
      row: (r) => {
        if (rows.length <= SAMPLE_ROWS && !r.fields.every((f) => f.trim() === "")) rows.push(r);
      },
      problem: () => undefined,
    },
  );
  t.feed(rest);
  t.end();
  return rows;
}

/** A 縦持ち export: a test-code column and a result column (with optional test name and unit). */
export function detectLong(
  header: readonly string[],
): { item: number; value: number; name?: number; unit?: number } | undefined {
  const find = (re: RegExp): number =>
    header.findIndex((h) => re.test(h.normalize("NFKC").replace(/\s/g, "").toLowerCase()));
  const item = find(/^(検査|項目|測定)(コード|cd|code|番号)$|^(testcode|itemcode|code)$/);
  const value = find(/^(結果|結果値|値|検査値|測定値|検査結果|value|result)$/);
  if (item < 0 || value < 0) return undefined;
  const name = find(/^(検査|項目|測定)(名|名称)$|^(testname|itemname)$/);
  const unit = find(/^(単位|unit)$/);
  return { item, value, ...(name >= 0 ? { name } : {}), ...(unit >= 0 ? { unit } : {}) };
}
