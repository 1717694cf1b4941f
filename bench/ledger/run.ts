/**
 * Ledger benchmark: prints, in one run, the machine's raw SHA-256 rate and, beside it, durable appends/s
 * through the service's write port (EmbeddedLedger) — one call at a time (batch 1: every call its own
 * transaction and fsync) and with many concurrent writers (group commit) — plus direct batches of 100 and
 * 1,000; a 10^6-entry log written the way the service writes it (concurrent writers through the port,
 * checkpoints on the cadence, and one call in 200 waiting for a covering checkpoint as trail reads do);
 * inclusion and consistency proof times on it; and fsck of it, in one thread and as `kenshin ledger fsck`
 * runs it (entry checks in worker threads).
 *
 *   npm run bench:ledger            (LEDGER_BENCH_SIZE=200000 for a quicker run)
 *
 * Benchmarks are not tests: nothing here asserts on time.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { generateNoteKey } from "../../src/crypto/note-key.js";
import { createNoteSigner } from "../../src/crypto/note-signer.js";
import { fsck, type FsckResult } from "../../src/ledger/fsck.js";
import { EmbeddedLedger } from "../../src/ledger/embedded-ledger.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { verifyConsistency } from "../../src/ledger/verify/consistency.js";
import { fromHex } from "../../src/ledger/verify/encoding.js";
import { verifyInclusion } from "../../src/ledger/verify/inclusion.js";
import { parseVerifierKey } from "../../src/ledger/verify/verifier-key.js";
import { createSqliteLog, openSqliteLog } from "../../src/store/sqlite-log.js";
import { fsckLogFile } from "../../src/store/sqlite-log-fsck.js";
import { uploadRecord } from "../support/upload-record.js";

const SIZE = Number(process.env["LEDGER_BENCH_SIZE"] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), "kenshin-bench-"));
const signer = createNoteSigner(generateNoteKey("bench.kenshin.example/log"));
const now = (): number => performance.now();

function newPort(name: string): EmbeddedLedger {
  return new EmbeddedLedger({
    storage: createSqliteLog({ path: join(dir, name), origin: signer.name, verifierKey: signer.verifierKey }),
    signer,
  });
}

/**
 * `writers` concurrent loops, each appending one-entry calls through the port until `total` entries are
 * in; every `waitEvery`-th call then waits for a checkpoint covering it (as a trail read does).
 */
async function concurrentWriters(
  port: EmbeddedLedger,
  writers: number,
  total: number,
  waitEvery = 0,
): Promise<number> {
  let next = 0;
  const start = now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (next < total) {
        const n = next++;
        const [r] = await port.append([{ record: uploadRecord(n) }]);
        if (waitEvery > 0 && n % waitEvery === 0 && r !== undefined) await port.checkpointCovering(r.index);
      }
    }),
  );
  return total / ((now() - start) / 1000);
}

function newLedger(name: string): Ledger {
  return new Ledger({
    storage: createSqliteLog({ path: join(dir, name), origin: signer.name, verifierKey: signer.verifierKey }),
  });
}

/** Raw SHA-256 hashes per second of `bytes`-long messages (node:crypto, one message per call). */
function rawHashRate(bytes: number): number {
  const msg = new Uint8Array(bytes).fill(7);
  let n = 0;
  const start = now();
  while (now() - start < 1000) {
    for (let i = 0; i < 1000; i++) createHash("sha256").update(msg).digest();
    n += 1000;
  }
  return n / ((now() - start) / 1000);
}

function rawThroughputMBs(): number {
  const block = new Uint8Array(1 << 20).fill(3);
  let n = 0;
  const start = now();
  while (now() - start < 1000) {
    createHash("sha256").update(block).digest();
    n++;
  }
  return n / ((now() - start) / 1000);
}

const fmt = (x: number, digits = 0): string =>
  x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const entryBytes = 400; // a typical upload entry is 350–450 bytes of canonical JSON
  const hashRate = rawHashRate(entryBytes + 1);
  const nodeRate = rawHashRate(65);
  console.log(
    `kenshin-exchange ledger benchmark — node ${process.version}, ${SIZE.toLocaleString("en-US")} entries`,
  );
  console.log(
    `raw SHA-256 (node:crypto): ${fmt(hashRate)} leaf hashes/s (${entryBytes + 1} B), ${fmt(nodeRate)} node hashes/s (65 B), ${fmt(rawThroughputMBs())} MB/s bulk`,
  );
  console.log("");

  console.log("durable appends through the write port (WAL, synchronous=FULL, one transaction per batch):");
  {
    const port = newPort("batch-1.db");
    const start = now();
    const n = 300;
    for (let i = 0; i < n; i++) await port.append([{ record: uploadRecord(i) }]);
    const rate = n / ((now() - start) / 1000);
    console.log(
      `  batch 1 (one call at a time):        ${fmt(rate).padStart(9)} appends/s  (${port.stats.batches} batches)`,
    );
    await port.close();
  }
  for (const writers of [64, 1024]) {
    const port = newPort(`writers-${writers}.db`);
    const total = 200_000;
    const rate = await concurrentWriters(port, writers, total);
    console.log(
      `  ${String(writers).padStart(4)} concurrent writers (group commit): ${fmt(rate).padStart(9)} appends/s  = ${fmt((rate / hashRate) * 100, 2)} % of the raw leaf-hash rate (${port.stats.batches} batches, ${port.stats.checkpoints} checkpoints)`,
    );
    await port.close();
  }
  for (const [batch, total] of [
    [100, 20_000],
    [1000, 100_000],
  ] as const) {
    const ledger = newLedger(`append-${batch}.db`);
    const start = now();
    for (let i = 0; i < total; i += batch) {
      await ledger.append(Array.from({ length: batch }, (_, j) => ({ record: uploadRecord(i + j) })));
    }
    const rate = total / ((now() - start) / 1000);
    console.log(
      `  direct batches of ${String(batch).padStart(4)} (Ledger.append): ${fmt(rate).padStart(9)} appends/s`,
    );
    ledger.close();
  }
  console.log("");

  let start = now();
  const big = newPort("big.db");
  const writeRate = await concurrentWriters(big, 256, SIZE, 200);
  const { batches, checkpoints } = big.stats;
  await big.close();
  console.log(
    `wrote a ${SIZE.toLocaleString("en-US")}-entry log the way the service writes it in ${fmt((now() - start) / 1000, 1)} s (${fmt(writeRate)} entries/s; 256 writers, 1 call in 200 waits for a covering checkpoint): ${fmt(batches)} batches, ${fmt(checkpoints)} checkpoints`,
  );
  const ledger = new Ledger({ storage: openSqliteLog(join(dir, "big.db")) });
  const cp = ledger.latestCheckpoint();

  const samples = 2000;
  let build = 0;
  let verify = 0;
  let hashes = 0;
  for (let s = 0; s < samples; s++) {
    const index = Math.floor(Math.random() * SIZE);
    let t = now();
    const p = ledger.inclusionProof(index);
    build += now() - t;
    const proof = p.proof.map((h) => fromHex(h));
    hashes += proof.length;
    t = now();
    verifyInclusion({ index, size: p.treeSize, leafHash: fromHex(p.leafHash), proof, root: cp.root });
    verify += now() - t;
  }
  const perHash = 1000 / nodeRate; // ms per raw node hash
  const avgLen = hashes / samples;
  console.log(
    `inclusion proof at ${SIZE.toLocaleString("en-US")} (avg ${fmt(avgLen, 1)} hashes, ${samples} random leaves):`,
  );
  console.log(
    `  build  ${fmt((build / samples) * 1000, 1)} µs  (${fmt(build / samples / (avgLen * perHash), 1)} × the time of ${fmt(avgLen, 1)} raw node hashes)`,
  );
  console.log(
    `  verify ${fmt((verify / samples) * 1000, 1)} µs  (${fmt(verify / samples / (avgLen * perHash), 1)} × raw; pure-JS @noble/hashes, as in the browser)`,
  );

  build = 0;
  verify = 0;
  hashes = 0;
  for (let s = 0; s < samples; s++) {
    const from = 1 + Math.floor(Math.random() * (SIZE - 1));
    const old = ledger.root(from);
    let t = now();
    const p = ledger.consistencyProof(from);
    build += now() - t;
    const proof = p.proof.map((h) => fromHex(h));
    hashes += proof.length;
    t = now();
    verifyConsistency({ size1: from, size2: SIZE, root1: old, root2: cp.root, proof });
    verify += now() - t;
  }
  const avgC = hashes / samples;
  console.log(
    `consistency proof to ${SIZE.toLocaleString("en-US")} (avg ${fmt(avgC, 1)} hashes, ${samples} random old sizes):`,
  );
  console.log(
    `  build  ${fmt((build / samples) * 1000, 1)} µs  (${fmt(build / samples / (avgC * perHash), 1)} × raw)`,
  );
  console.log(
    `  verify ${fmt((verify / samples) * 1000, 1)} µs  (${fmt(verify / samples / (2 * avgC * perHash), 1)} × the time of ${fmt(2 * avgC, 1)} raw node hashes)`,
  );

  // Lower bound for fsck: one leaf hash and (amortised) one node hash per entry.
  const floor = SIZE / hashRate + SIZE / nodeRate;
  const vkey = parseVerifierKey(signer.verifierKey);
  const report = (how: string, result: FsckResult, seconds: number): void => {
    const detail = result.ok
      ? `intact; ${fmt(result.checkpoints)} checkpoints checked, ${fmt(result.signaturesVerified)} signatures verified`
      : result.code;
    console.log(
      `fsck of ${SIZE.toLocaleString("en-US")} entries, ${how}: ${fmt(seconds, 1)} s (${fmt(SIZE / seconds)} entries/s; ${fmt(seconds / floor, 1)} × the raw hashing floor of ${fmt(floor, 2)} s) — ${detail}`,
    );
  };
  start = now();
  report("one thread (fsck)", fsck(ledger.storage, vkey), (now() - start) / 1000);
  ledger.close();
  // What `kenshin ledger fsck` runs: the entry pages shared by this thread (which also folds the tree)
  // and one worker fewer than the cores.
  const workers = Math.max(0, Math.min(3, availableParallelism() - 1));
  start = now();
  const inWorkers = await fsckLogFile(join(dir, "big.db"), vkey, { workers });
  report(
    `entries in this thread and ${workers} worker threads (kenshin ledger fsck)`,
    inWorkers,
    (now() - start) / 1000,
  );
  rmSync(dir, { recursive: true, force: true });
}

await main();
