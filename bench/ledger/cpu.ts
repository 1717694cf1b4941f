/**
 * CPU time per entry of the two issue-9 paths, for comparing two builds in the same minutes on a shared
 * machine (wall time there says more about the neighbours than about the code; `process.cpuUsage` counts
 * every thread of this process, so fsck's worker threads are included):
 *
 *   node dist-bench/bench/ledger/cpu.js append [entries=60000] [writers=1024]
 *   node dist-bench/bench/ledger/cpu.js write <file> [entries=200000]   (the service's pattern, as run.ts)
 *   node dist-bench/bench/ledger/cpu.js fsck <file> [workers=0]
 *
 * Each prints one line with the load average beside the figures. Benchmarks are not tests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { generateNoteKey } from "../../src/crypto/note-key.js";
import { createNoteSigner } from "../../src/crypto/note-signer.js";
import { EmbeddedLedger } from "../../src/ledger/embedded-ledger.js";
import { fsck } from "../../src/ledger/fsck.js";
import { parseVerifierKey } from "../../src/ledger/verify/verifier-key.js";
import { createSqliteLog, openSqliteLog } from "../../src/store/sqlite-log.js";
import { fsckLogFile } from "../../src/store/sqlite-log-fsck.js";
import { uploadRecord } from "../support/upload-record.js";

/** Fixed seed key, so a log written by one build is fsck'd by another with the same verifier key. */
const signer = createNoteSigner(
  generateNoteKey("bench.kenshin.example/log", (n) => new Uint8Array(n).fill(9)),
);

async function writers(port: EmbeddedLedger, count: number, total: number, waitEvery: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: count }, async () => {
      while (next < total) {
        const n = next++;
        const [r] = await port.append([{ record: uploadRecord(n) }]);
        if (waitEvery > 0 && n % waitEvery === 0 && r !== undefined) await port.checkpointCovering(r.index);
      }
    }),
  );
}

function measure<T>(fn: () => Promise<T>): Promise<{ value: T; wall: number; user: number; sys: number }> {
  const load = loadavg()[0] ?? 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  return fn().then((value) => {
    const used = process.cpuUsage(cpu);
    const wall = (performance.now() - start) / 1000;
    process.stdout.write(`load ${load.toFixed(1)}→${(loadavg()[0] ?? 0).toFixed(1)} `);
    return { value, wall, user: used.user / 1e6, sys: used.system / 1e6 };
  });
}

const us = (seconds: number, n: number): string => ((seconds / n) * 1e6).toFixed(1);

async function main(): Promise<void> {
  const [mode, a, b] = process.argv.slice(2);
  if (mode === "append") {
    const total = Number(a ?? 60_000);
    const count = Number(b ?? 1024);
    const dir = mkdtempSync(join(tmpdir(), "kenshin-cpu-"));
    const port = new EmbeddedLedger({
      storage: createSqliteLog({
        path: join(dir, "l.db"),
        origin: signer.name,
        verifierKey: signer.verifierKey,
      }),
      signer,
    });
    const m = await measure(() => writers(port, count, total, 0));
    console.log(
      `append ${total} entries, ${count} writers: ${Math.round(total / m.wall)} /s, ${us(m.user + m.sys, total)} µs CPU/entry (user ${us(m.user, total)}, sys ${us(m.sys, total)}), ${port.stats.batches} batches`,
    );
    await port.close();
    rmSync(dir, { recursive: true, force: true });
  } else if (mode === "write" && a !== undefined) {
    const total = Number(b ?? 200_000);
    const port = new EmbeddedLedger({
      storage: createSqliteLog({ path: a, origin: signer.name, verifierKey: signer.verifierKey }),
      signer,
    });
    const m = await measure(() => writers(port, 256, total, 200));
    console.log(
      `wrote ${total} entries the service's way: ${m.wall.toFixed(1)} s, ${us(m.user + m.sys, total)} µs CPU/entry, ${port.stats.batches} batches, ${port.stats.checkpoints} checkpoints`,
    );
    await port.close();
  } else if (mode === "fsck" && a !== undefined) {
    const workers = Number(b ?? 0);
    const key = parseVerifierKey(signer.verifierKey);
    const m = await measure(async () => {
      if (workers > 0) return fsckLogFile(a, key, { workers });
      const storage = openSqliteLog(a);
      try {
        return fsck(storage, key);
      } finally {
        storage.close();
      }
    });
    const r = m.value;
    const n = r.ok ? r.size : 1;
    console.log(
      `fsck (${workers} workers) ${r.ok ? `${r.size} entries intact, ${r.signaturesVerified} signatures` : r.code}: ${m.wall.toFixed(2)} s wall, ${(m.user + m.sys).toFixed(2)} s CPU = ${us(m.user + m.sys, n)} µs CPU/entry`,
    );
  } else {
    console.error(
      "usage: cpu.js append [entries] [writers] | write <file> [entries] | fsck <file> [workers]",
    );
    process.exitCode = 2;
  }
}

await main();
