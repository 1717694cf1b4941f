/**
 * Golden tests: both shipped example institutions convert to exactly the committed standard CSV,
 * report, issue list and hashes. Regenerate after an intended change with
 * `UPDATE_GOLDEN=1 npx vitest run test/examples.int.test.ts` and review the diff.
 */
import iconv from "iconv-lite";
import { mkdtemp, readFile, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertFile, prepareMapping } from "../src/convert/convert-file.js";
import { sha256Hex, recordHashesOf } from "../src/format/hash.js";
import type { OutputEncoding } from "../src/format/output-encoding.js";

const update = process.env["UPDATE_GOLDEN"] === "1";
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kenshin-golden-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cases: { name: string; encoding: OutputEncoding }[] = [
  { name: "wide-cp932", encoding: "cp932" },
  { name: "long-utf8", encoding: "utf-8" },
];

describe.each(cases)("example $name", ({ name, encoding }) => {
  const base = join("examples", name);
  const expected = join(base, "expected");

  it("converts to the golden standard CSV, report, issues and hashes", async () => {
    const prepared = await prepareMapping({ mappingPath: join(base, "mapping.yaml") });
    const out = {
      csv: join(dir, `${name}.csv`),
      report: join(dir, `${name}.report.json`),
      issues: join(dir, `${name}.issues.csv`),
      hashes: join(dir, `${name}.hashes.csv`),
    };
    const { summary } = await convertFile({
      inputPath: join(base, "export.csv"),
      prepared,
      outPath: out.csv,
      reportPath: out.report,
      reportCsvPath: out.issues,
      hashesPath: out.hashes,
      encoding,
    });
    const files = [
      ["standard.csv", out.csv],
      ["report.json", out.report],
      ["issues.csv", out.issues],
      ["hashes.csv", out.hashes],
    ] as const;
    if (update) {
      await mkdir(expected, { recursive: true });
      for (const [golden, actual] of files) await writeFile(join(expected, golden), await readFile(actual));
    }
    for (const [golden, actual] of files) {
      const [got, want] = [await readFile(actual), await readFile(join(expected, golden))];
      // Text first, for a readable diff; then the exact bytes.
      const decode = (b: Buffer) => iconv.decode(b, golden === "standard.csv" ? encoding : "utf-8");
      expect(decode(got), `${golden} differs from the golden file`).toEqual(decode(want));
      expect(got.equals(want), `${golden} bytes differ from the golden file`).toBe(true);
    }
    // The hashes are those anyone can recompute from the bytes.
    const bytes = await readFile(out.csv);
    expect(summary.output.sha256).toBe(sha256Hex(bytes));
    expect(summary.recordHashes).toEqual(recordHashesOf(bytes));
    const c = summary.counts;
    expect(c.rowsIn).toBe(c.rowsUsed + c.rowsRejected + c.rowsIgnored);
  });
});
