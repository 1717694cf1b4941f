/**
 * The `kenshin` command as a user runs it: the built CLI in a child process, real files, exit codes
 * 0 (clean) / 1 (done with row issues) / 2 (unusable input), coded messages and never a stack trace.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI = join(process.cwd(), "dist/cli/main.js");
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kenshin-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function kenshin(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    env: { ...process.env, KENSHIN_DEBUG: "" },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const cleanMapping = `format: kenshin-mapping
version: 1
name: clean
layout: wide
source: { encoding: utf-8 }
fields:
  - { item: examinee-id, column: ID }
  - { item: exam-date, column: 日付 }
  - { item: height, column: 身長 }
`;

describe("kenshin convert", () => {
  it("converts an example with row issues → exit 1 and the golden bytes", async () => {
    const out = join(dir, "wide.csv");
    const r = kenshin(
      "convert",
      "examples/wide-cp932/export.csv",
      "--map",
      "examples/wide-cp932/mapping.yaml",
      "--out",
      out,
      "--encoding",
      "cp932",
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("入力 12 行");
    expect(await readFile(out)).toEqual(await readFile("examples/wide-cp932/expected/standard.csv"));
  });

  it("--threads 2 (the file's halves on two worker threads) writes exactly what one thread writes", async () => {
    // The example's rows repeated past the parallel threshold (4 MB), with a quoted field spanning
    // lines and a bad row near the middle, where the file is cut in two. Its records have keys, so
    // each copy after the first repeats the first copy's keys: duplicates within each half and across
    // the cut.
    const example = await readFile("examples/wide-cp932/export.csv");
    const headerEnd = example.indexOf("\r\n") + 2;
    const rows = example.subarray(headerEnd);
    const copies = Math.ceil(6_000_000 / rows.length);
    const middle = Buffer.from('A9,"a\r\nb",x\r\n,,,\r\n', "latin1");
    const input = Buffer.concat([
      example.subarray(0, headerEnd),
      ...Array.from({ length: copies }, (_, i) =>
        i === Math.floor(copies / 2) ? Buffer.concat([middle, rows]) : rows,
      ),
    ]);
    await writeFile(join(dir, "big.csv"), input);
    const outputs: Buffer[] = [];
    for (const threads of ["1", "2"]) {
      const base = join(dir, `big-${threads}`);
      const r = kenshin(
        "convert",
        join(dir, "big.csv"),
        "--map",
        "examples/wide-cp932/mapping.yaml",
        "--out",
        `${base}.csv`,
        "--report",
        `${base}.json`,
        "--hashes",
        `${base}-hashes.csv`,
        "--report-csv",
        `${base}-issues.csv`,
        "--threads",
        threads,
      );
      expect(r.code, r.stderr).toBe(1);
      // The halves really ran on two threads (every row of the second half repeats a key of the first:
      // the join rejects them all, as one thread does). When not, stderr says why (CI once saw one
      // thread here): it is in the failure message.
      expect(r.stderr.includes("2 スレッドで変換しました"), r.stderr).toBe(threads === "2");
      expect(r.stderr, r.stderr).not.toContain("CONVERT_PARALLEL_FALLBACK");
      outputs.push(
        Buffer.concat(
          await Promise.all(
            [".csv", ".json", "-hashes.csv", "-issues.csv"].map((suffix) => readFile(`${base}${suffix}`)),
          ),
        ),
      );
    }
    expect(outputs[0]?.length).toBeGreaterThan(4_000_000);
    expect(outputs[1]?.equals(outputs[0] ?? Buffer.alloc(0))).toBe(true);
  });

  it("--threads 2 when the cut falls inside a quoted field: one thread does it, and stderr says why", async () => {
    // A row whose last field spans ~300 kB of lines sits where the file is cut in two: the first half
    // would end inside it, which the worker refuses (CONVERT_SPLIT_MID_ROW).
    const example = await readFile("examples/wide-cp932/export.csv");
    const headerEnd = example.indexOf("\r\n", example.indexOf("\r\n") + 2) + 2;
    const rows = example.subarray(headerEnd);
    const firstRow = rows.subarray(0, rows.indexOf("\r\n"));
    const spanning = Buffer.concat([firstRow, Buffer.from(`"${"x\r\n".repeat(100_000)}"\r\n`)]);
    const copies = Math.ceil(4_600_000 / rows.length);
    const input = Buffer.concat([
      example.subarray(0, headerEnd),
      ...Array.from({ length: copies }, (_, i) =>
        i === Math.floor(copies / 2) ? Buffer.concat([spanning, rows]) : rows,
      ),
    ]);
    await writeFile(join(dir, "cut.csv"), input);
    const outputs: Buffer[] = [];
    for (const threads of ["1", "2"]) {
      const out = join(dir, `cut-${threads}.csv`);
      const r = kenshin(
        "convert",
        join(dir, "cut.csv"),
        "--map",
        "examples/wide-cp932/mapping.yaml",
        "--out",
        out,
        "--threads",
        threads,
      );
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr, r.stderr).not.toContain("2 スレッドで変換しました");
      if (threads === "2")
        expect(r.stderr).toMatch(
          /^kenshin: CONVERT_PARALLEL_FALLBACK: 2 スレッドでの変換に失敗したため 1 スレッドで変換しました \(CONVERT_SPLIT_MID_ROW: 前半: 分割点が行の途中です\)$/m,
        );
      else expect(r.stderr).not.toContain("CONVERT_PARALLEL_FALLBACK");
      outputs.push(await readFile(out));
    }
    expect(outputs[1]?.equals(outputs[0] ?? Buffer.alloc(0))).toBe(true);
  });

  it("converts a clean file → exit 0", async () => {
    await writeFile(join(dir, "clean.yaml"), cleanMapping);
    await writeFile(join(dir, "clean.csv"), "ID,日付,身長\nA1,R7.4.1,170.2\n");
    const r = kenshin(
      "convert",
      join(dir, "clean.csv"),
      "--map",
      join(dir, "clean.yaml"),
      "--out",
      join(dir, "clean.out.csv"),
      "--quiet",
    );
    expect(r).toMatchObject({ code: 0, stderr: "" });
  });

  it("when the mapping file is missing → exit 2 with a coded message and no stack trace", () => {
    const r = kenshin(
      "convert",
      "examples/wide-cp932/export.csv",
      "--map",
      join(dir, "nope.yaml"),
      "--out",
      join(dir, "x.csv"),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kenshin: MAP_UNREADABLE: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("when the mapping names a column the file lacks → exit 2 and no output file left behind", async () => {
    await writeFile(join(dir, "cols.yaml"), cleanMapping.replace("column: 身長", "column: 体重"));
    const out = join(dir, "cols.out.csv");
    const r = kenshin("convert", join(dir, "clean.csv"), "--map", join(dir, "cols.yaml"), "--out", out);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("MAP_UNKNOWN_COLUMN");
    expect(existsSync(out)).toBe(false);
    expect((await readdir(dir)).filter((f) => f.includes("partial"))).toEqual([]);
  });

  it("when the input does not exist → exit 2 CONVERT_INPUT_UNREADABLE", () => {
    const r = kenshin(
      "convert",
      join(dir, "missing.csv"),
      "--map",
      "examples/wide-cp932/mapping.yaml",
      "--out",
      join(dir, "y.csv"),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("CONVERT_INPUT_UNREADABLE");
  });
});

describe("kenshin map check", () => {
  it("accepts a valid mapping → exit 0", () => {
    const r = kenshin("map", "check", "examples/long-utf8/mapping.yaml");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("有効です");
  });

  it("runs the mapping over a sample and lists the issues → exit 1", () => {
    const r = kenshin(
      "map",
      "check",
      "examples/long-utf8/mapping.yaml",
      "--sample",
      "examples/long-utf8/export.csv",
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("RECORD_DUPLICATE_ITEM");
  });

  it("rejects a mapping whose items are not in the dictionary → exit 2", async () => {
    await writeFile(join(dir, "bad.yaml"), cleanMapping.replace("item: height", "item: shoe-size"));
    const r = kenshin("map", "check", join(dir, "bad.yaml"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("MAP_UNKNOWN_ITEM");
  });
});

describe("kenshin", () => {
  it("prints help → exit 0; an unknown command → exit 2", () => {
    expect(kenshin("--help").code).toBe(0);
    expect(kenshin("frobnicate").code).toBe(2);
  });
});

describe("kenshin argument errors", () => {
  it("are Japanese, with a close match, and exit 2", () => {
    const r = kenshin("map", "check", "examples/long-utf8/mapping.yaml", "--sampel", "x.csv");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("エラー: 不明なオプション「--sampel」です");
    expect(r.stderr).toContain("もしかして --sample ですか");
    expect(r.stderr).not.toMatch(/^error:/m);
    const missing = kenshin("convert", "examples/wide-cp932/export.csv");
    expect(missing.stderr).toContain("オプション「--map <mapping>」は必須です");
  });
});

describe("kenshin map suggest", () => {
  it("writes a commented draft that map check accepts (exit 0 both)", () => {
    const draft = join(dir, "draft.yaml");
    const r = kenshin("map", "suggest", "examples/wide-cp932/export.csv", "--out", draft);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("下書き: 対応付け 47 件");
    const check = kenshin("map", "check", draft);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain("有効です");
  });

  it("when the export does not exist → exit 2 CONVERT_INPUT_UNREADABLE", () => {
    const r = kenshin("map", "suggest", join(dir, "nope.csv"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("CONVERT_INPUT_UNREADABLE");
  });
});
