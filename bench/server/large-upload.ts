/**
 * bench/server/large-upload: the server's memory while a large export streams through it. A demo node
 * runs as its own process (`kenshin serve`, 127.0.0.1, ephemeral port, temporary data directory); the
 * sender uploads a synthetic wide CP932 export of --examinees rows (1,000,000 ≈ 1 GB) with the
 * streaming client (sealed chunk by chunk into a temporary file, then sent as a stream), sends it, and
 * the receiver downloads the standard CSV. Prints the server's peak RSS during each (VmRSS from /proc,
 * sampled every 100 ms) and the end-to-end times.
 *
 *   npm run bench:server:upload -- [--examinees 1000000]
 *
 * Bounded: one upload, one download; the server is stopped (SIGTERM, then SIGKILL) and the data
 * directory removed at the end. Benchmarks are not tests: nothing here asserts on time.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as ApiClientModule from "../../src/client/api-client.js";
import type * as TransferClientModule from "../../src/client/transfer-client.js";
import { DIST, flag, load } from "../support/built-service.js";
import { BENCH_HOST as HOST, createBenchDemo, logInParties } from "../support/demo-parties.js";
import { syntheticInput } from "../support/synthetic-input.js";

/**
 * Samples a process's resident set (VmRSS) every 100 ms and keeps the largest: the peak while it runs
 * (VmHWM would include start-up and the argon2id hashing of the logins before).
 */
function rssSampler(pid: number): { peakMb: () => number; stop: () => void; timeline: () => string } {
  let peakKb = 0;
  const started = performance.now();
  // One sample a second kept for the timeline (bench/out/large-upload-rss.txt): where the peak is.
  const samples: string[] = [];
  let lastKept = -1;
  const timer = setInterval(() => {
    void readFile(`/proc/${String(pid)}/status`, "utf8").then(
      (status) => {
        const m = /VmRSS:\s+(\d+) kB/.exec(status);
        if (!m?.[1]) return;
        const kb = Number(m[1]);
        peakKb = Math.max(peakKb, kb);
        const second = Math.floor((performance.now() - started) / 1000);
        if (second !== lastKept) {
          lastKept = second;
          samples.push(`${String(second).padStart(5)} s ${(kb / 1024).toFixed(0).padStart(6)} MB`);
        }
      },
      () => undefined,
    );
  }, 100);
  // A failed run must still end (the sampler of an upload that threw is never stopped).
  timer.unref();
  return {
    peakMb: () => peakKb / 1024,
    stop: () => {
      clearInterval(timer);
    },
    timeline: () => samples.join("\n"),
  };
}

/** Runs one step of the bench; a failure names the step and when it failed. */
async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await run();
  } catch (cause) {
    throw new Error(`${name} failed after ${((performance.now() - t0) / 1000).toFixed(1)} s`, { cause });
  }
}

function startServe(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL("cli/main.js", DIST)), "serve", "--data", dir, "--port", "0"],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, KENSHIN_LOG_LEVEL: "warn" },
    },
  );
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => {
      reject(new Error(`server did not start: ${text.slice(0, 500)}`));
    }, 60_000);
    child.stderr.on("data", (d: Buffer) => {
      text += d.toString();
      // Everything the server says goes to bench/out/large-upload-server.log (read it when a run fails).
      appendFileSync(join("bench", "out", "large-upload-server.log"), d);
      const m = /listening on (https:\/\/\S+)/.exec(text);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ child, url: m[1].endsWith("/") ? m[1] : `${m[1]}/` });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${String(code)}): ${text.slice(0, 500)}`));
    });
  });
}

async function main(): Promise<void> {
  const examinees = flag("--examinees", 1_000_000);
  const transfers = await load<typeof TransferClientModule>("client/transfer-client.js");
  const { path: input, shape, outDir } = await syntheticInput(examinees);
  const inputBytes = (await stat(input)).size;

  const dir = await mkdtemp(join(tmpdir(), "kenshin-bench-upload-"));
  const clients: ApiClientModule.ApiClient[] = [];
  let server: ChildProcess | undefined;
  try {
    const demo = await createBenchDemo(dir);
    const started = await startServe(dir);
    server = started.child;
    const pid = server.pid;
    if (pid === undefined) throw new Error("no server pid");
    const parties = await logInParties(demo, { baseUrl: started.url, timeoutMs: 1_800_000, clients });
    const [office, sender, receiver] = [
      parties.office.client,
      parties.sender.client,
      parties.receiver.client,
    ];
    const { senderId, receiverId } = parties;
    const reg = await office.post(`/api/v1/admin/institutions/${senderId}/mapping`, {
      mapping: shape.mapping,
    });
    if (reg.status !== 201) throw new Error(`mapping: ${reg.status} ${reg.text.slice(0, 300)}`);

    const idle = rssSampler(pid);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idleMb = idle.peakMb();
    idle.stop();

    const upload = rssSampler(pid);
    const t0 = performance.now();
    const up = await step("upload", () =>
      transfers.uploadExportFile(sender, receiverId, input, { tmpDir: outDir }),
    );
    const t1 = performance.now();
    if (up.status !== 201) throw new Error(`upload: ${up.status} ${up.text.slice(0, 300)}`);
    const { transfer, report } = up.json as {
      transfer: { id: string; standard: { bytes: number; sha256: string } };
      report: { counts: { recordsOut: number } };
    };
    const send = await step("send", () => sender.post(`/api/v1/transfers/${transfer.id}/send`));
    if (send.status !== 200) throw new Error(`send: ${send.status}`);
    const t2 = performance.now();
    const uploadPeak = upload.peakMb();
    upload.stop();
    await writeFile(join(outDir, "large-upload-rss.txt"), `${upload.timeline()}\n`);

    const download = rssSampler(pid);
    const d0 = performance.now();
    const downloadHash = createHash("sha256");
    const down = await step("download", () =>
      transfers.downloadStandardTo(receiver, transfer.id, (c) => {
        downloadHash.update(c);
      }),
    );
    const d1 = performance.now();
    if ("refused" in down) throw new Error(`download: ${down.refused.status}`);
    if (down.bytes !== transfer.standard.bytes) throw new Error("download size differs");
    if (downloadHash.digest("hex") !== transfer.standard.sha256) throw new Error("download hash differs");
    const downloadPeak = download.peakMb();
    download.stop();

    const mb = inputBytes / 1e6;
    const stdMb = transfer.standard.bytes / 1e6;
    const records = report.counts.recordsOut;
    process.stdout.write(
      [
        `node ${process.version}, server as its own process (kenshin serve), ${HOST}, TLS 1.3, data in ${tmpdir()}`,
        `export: ${examinees.toLocaleString("en")} examinees, CP932, ${mb.toFixed(1)} MB → standard CSV ${stdMb.toFixed(1)} MB, ${records.toLocaleString("en")} records`,
        "",
        "| measure | figure |",
        "|---|---|",
        `| server RSS before the upload (after start-up and the logins) | ${idleMb.toFixed(0)} MB |`,
        `| server peak RSS during the upload (streamed: opened, converted, spooled, stored, ledgered) | ${uploadPeak.toFixed(0)} MB |`,
        `| upload end to end (client seals to a temporary file, sends; server converts as it arrives) | ${((t1 - t0) / 1000).toFixed(1)} s, ${(mb / ((t1 - t0) / 1000)).toFixed(1)} MB/s, ${Math.round(records / ((t1 - t0) / 1000)).toLocaleString("en")} records/s |`,
        `| … + 送信確定 | ${((t2 - t0) / 1000).toFixed(1)} s |`,
        `| download of the standard CSV (streamed both ends; the client hashes it) | ${((d1 - d0) / 1000).toFixed(1)} s, ${(stdMb / ((d1 - d0) / 1000)).toFixed(1)} MB/s |`,
        `| server peak RSS during the download (streamed from the store through the envelope) | ${downloadPeak.toFixed(0)} MB |`,
      ].join("\n") + "\n",
    );
  } finally {
    for (const c of clients) c.close();
    if (server && server.exitCode === null) {
      server.kill("SIGTERM");
      const killer = setTimeout(() => server?.kill("SIGKILL"), 10_000);
      await new Promise((resolve) => server?.once("exit", resolve));
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
