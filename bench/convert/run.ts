/**
 * bench/convert: converts a synthetic 100,000-examinee wide CP932 export (300 columns, a mapping of ~30
 * items) with `kenshin convert` and, in the same run on the same file, times pandas (Debian
 * `python3-pandas`: the same columns read as CP932, sex codes mapped, BMI computed; skipped when
 * `/usr/bin/python3 -c "import pandas"` fails) and Miller (Debian `miller`: the same column selection,
 * renaming and code → term mapping). Prints records/s, input MB/s, peak RSS and the ratios.
 *
 *   npm run bench:convert -- [--examinees 100000] [--keep] [--no-peer] [--reference]
 *
 * `--no-peer` skips pandas and Miller, for the memory check on a 1 GB export (Miller 6 held ~2.7 GB
 * resident for the 100 MB file, so a 1 GB file could exhaust the machine). `--reference` also times
 * the engine's text-only reference path (KENSHIN_CONVERT_REFERENCE=1), to show what the fast path gains.
 *
 * Peak RSS is the child's VmHWM from /proc, sampled until it exits. Figures are from one machine and
 * one run: compare them only with figures printed by the same run.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { exportShape, writeSyntheticExport } from "./synthetic-export.js";

interface Measured {
  readonly seconds: number;
  readonly peakRssMb: number;
  readonly exitCode: number | null;
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function measure(
  command: string,
  args: readonly string[],
  stdoutPath?: string,
  env?: Readonly<Record<string, string>>,
): Promise<Measured> {
  const out = stdoutPath === undefined ? undefined : await open(stdoutPath, "w");
  const started = process.hrtime.bigint();
  const child = spawn(command, args, {
    stdio: ["ignore", out ? out.fd : "ignore", "pipe"],
    env: { ...process.env, ...env },
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  let peakKb = 0;
  const sample = async (): Promise<void> => {
    try {
      const status = await readFile(`/proc/${String(child.pid)}/status`, "utf8");
      const m = /VmHWM:\s+(\d+) kB/.exec(status);
      if (m?.[1]) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      // the process has exited
    }
  };
  const timer = setInterval(() => void sample(), 20);
  const exitCode = await new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      resolve(code);
    }),
  );
  clearInterval(timer);
  await out?.close();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (exitCode !== 0 && exitCode !== 1)
    throw new Error(`${command} failed (${String(exitCode)}): ${stderr.slice(0, 500)}`);
  return { seconds, peakRssMb: peakKb / 1024, exitCode };
}

function hasPandas(): boolean {
  if (!existsSync("/usr/bin/python3")) return false;
  return spawnSync("/usr/bin/python3", ["-c", "import pandas"], { stdio: "ignore" }).status === 0;
}

async function main(): Promise<void> {
  const examinees = Number(flag("--examinees") ?? 100_000);
  if (!Number.isInteger(examinees) || examinees < 1)
    throw new Error("--examinees must be a positive integer");
  const dir = join("bench", "out");
  await mkdir(dir, { recursive: true });
  const shape = exportShape();
  const input = join(dir, `wide-${examinees}.csv`);
  const mapping = join(dir, "wide-mapping.yaml");
  await writeFile(mapping, shape.mapping);
  let inputBytes: number;
  if (existsSync(input)) {
    inputBytes = (await stat(input)).size;
  } else {
    process.stderr.write(`generating ${input} …\n`);
    // Generate under another name: an interrupted run must not leave a partial file to be reused.
    inputBytes = await writeSyntheticExport(`${input}.partial`, examinees, shape);
    await rename(`${input}.partial`, input);
  }
  const mb = inputBytes / 1e6;
  process.stdout.write(
    `input: ${examinees.toLocaleString("en")} examinees × ${shape.header.length} columns, CP932, ${mb.toFixed(1)} MB\n`,
  );

  const kenshin = (extra: readonly string[], env?: Readonly<Record<string, string>>) =>
    measure(
      process.execPath,
      [
        "dist/cli/main.js",
        "convert",
        input,
        "--map",
        mapping,
        "--out",
        join(dir, "standard.csv"),
        "--report",
        join(dir, "report.json"),
        "--encoding",
        "cp932",
        "--quiet",
        ...extra,
      ],
      undefined,
      env,
    );
  const ours = await kenshin(["--threads", "1"]);
  const parallel = await kenshin(["--threads", "2"]);
  const reference = process.argv.includes("--reference")
    ? await kenshin(["--threads", "1"], { KENSHIN_CONVERT_REFERENCE: "1" })
    : undefined;
  const report = JSON.parse(await readFile(join(dir, "report.json"), "utf8")) as {
    counts: { recordsOut: number };
  };
  const records = report.counts.recordsOut;

  const peers = !process.argv.includes("--no-peer");
  let pandas: Measured | undefined;
  if (peers && hasPandas()) {
    const columns = join(dir, "pandas-columns.txt");
    await writeFile(columns, `${shape.mappedColumns.join("\n")}\n`);
    pandas = await measure("/usr/bin/python3", [
      join("bench", "convert", "pandas_peer.py"),
      input,
      join(dir, "pandas.csv"),
      columns,
    ]);
  }
  const mlr = existsSync("/usr/bin/mlr") && peers ? "/usr/bin/mlr" : undefined;
  let miller: Measured | undefined;
  if (mlr) {
    miller = await measure(
      mlr,
      ["--icsv", "--ocsv", "--implicit-csv-header", "--headerless-csv-output", ...shape.millerVerbs, input],
      join(dir, "miller.csv"),
    );
  }

  const row = (name: string, m: Measured, recs: number) =>
    `${name.padEnd(16)} ${m.seconds.toFixed(2).padStart(8)} s ${(recs / m.seconds).toFixed(0).padStart(10)} rec/s ` +
    `${(mb / m.seconds).toFixed(1).padStart(8)} MB/s ${m.peakRssMb.toFixed(0).padStart(6)} MB peak RSS`;
  process.stdout.write(`${row("kenshin 1 thread", ours, records)}\n`);
  process.stdout.write(`${row("kenshin 2 threads", parallel, records)}\n`);
  if (reference) process.stdout.write(`${row("kenshin reference", reference, records)}\n`);
  const best = Math.min(ours.seconds, parallel.seconds);
  if (pandas) {
    process.stdout.write(`${row("pandas", pandas, examinees)}\n`);
    process.stdout.write(
      `ratio: pandas takes ${(pandas.seconds / ours.seconds).toFixed(2)}× kenshin's time (1 thread), ` +
        `${(pandas.seconds / parallel.seconds).toFixed(2)}× (2 threads)\n`,
    );
  } else {
    process.stdout.write("no pandas figure (--no-peer, or python3-pandas not installed)\n");
  }
  if (miller) {
    process.stdout.write(`${row("miller 6 (mlr)", miller, examinees)}\n`);
    process.stdout.write(`ratio: Miller takes ${(miller.seconds / best).toFixed(2)}× kenshin's time\n`);
  } else {
    process.stdout.write("no Miller figure (--no-peer, or miller not installed: apt-get install miller)\n");
  }
  if (pandas || miller) {
    process.stdout.write(
      "(pandas and Miller only select, rename, map codes (and pandas computes BMI); kenshin also parses 和暦 " +
        "dates and numbers, checks ranges, runs the thesaurus, computes BMI/age/eGFR, checks correlations and " +
        "byte limits, writes the full 368-column record and hashes every record)\n",
    );
  }
  if (!process.argv.includes("--keep")) {
    await rm(join(dir, "standard.csv"), { force: true });
    await rm(join(dir, "miller.csv"), { force: true });
    await rm(join(dir, "pandas.csv"), { force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
