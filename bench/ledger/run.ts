/**
 * Ledger benchmark: prints, in one run, durable appends/s at batch sizes 1, 100 and 1,000; inclusion and
 * consistency proof build and verify times at 10^6 entries; fsck time for 10^6 entries; and the machine's
 * raw SHA-256 rate measured in the same run, with each figure as a ratio of that limit.
 *
 *   npm run bench:ledger            (LEDGER_BENCH_SIZE=200000 for a quicker run)
 *
 * Benchmarks are not tests: nothing here asserts on time.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateNoteKey } from "../../src/crypto/note-key.js";
import { createNoteSigner } from "../../src/crypto/note-signer.js";
import type { RecordInput } from "../../src/ledger/entry/operation-record.js";
import { fsck } from "../../src/ledger/fsck.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { verifyConsistency } from "../../src/ledger/verify/consistency.js";
import { fromHex } from "../../src/ledger/verify/encoding.js";
import { verifyInclusion } from "../../src/ledger/verify/inclusion.js";
import { parseVerifierKey } from "../../src/ledger/verify/verifier-key.js";
import { createSqliteLog } from "../../src/store/sqlite-log.js";

const SIZE = Number(process.env["LEDGER_BENCH_SIZE"] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), "kenshin-bench-"));
const signer = createNoteSigner(generateNoteKey("bench.kenshin.example/log"));
const now = (): number => performance.now();

function record(n: number): RecordInput {
  return {
    type: "upload",
    time: "2025-04-01T09:00:00.000Z",
    actor: { id: `user-${n % 97}`, role: "sender", network: { address: "192.0.2.1", type: "ip" } },
    institution: "1312345678",
    outcome: "success",
    source: { observer: "node-a" },
    transfer: `T-${n}`,
    receiver: "INS-RECV-1",
    file: { sha256: createHash("sha256").update(String(n)).digest("hex"), bytes: 4096 },
  };
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

  console.log("durable appends (WAL, synchronous=FULL, one transaction per batch):");
  for (const [batch, total] of [
    [1, 500],
    [100, 20_000],
    [1000, 100_000],
  ] as const) {
    const ledger = newLedger(`append-${batch}.db`);
    const start = now();
    for (let i = 0; i < total; i += batch) {
      await ledger.append(Array.from({ length: batch }, (_, j) => ({ record: record(i + j) })));
    }
    const rate = total / ((now() - start) / 1000);
    console.log(
      `  batch ${String(batch).padStart(4)}: ${fmt(rate).padStart(9)} appends/s  = ${fmt((rate / hashRate) * 100, 2)} % of the raw leaf-hash rate`,
    );
    ledger.close();
  }
  console.log("");

  const ledger = newLedger("big.db");
  let start = now();
  for (let i = 0; i < SIZE; i += 10_000) {
    await ledger.append(
      Array.from({ length: Math.min(10_000, SIZE - i) }, (_, j) => ({ record: record(i + j) })),
    );
  }
  const cp = ledger.signCheckpoint(signer);
  console.log(
    `built a ${SIZE.toLocaleString("en-US")}-entry log in ${fmt((now() - start) / 1000, 1)} s (batches of 10,000)`,
  );

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

  start = now();
  const result = fsck(ledger.storage, parseVerifierKey(signer.verifierKey));
  const seconds = (now() - start) / 1000;
  // Lower bound for fsck: one leaf hash and (amortised) one node hash per entry.
  const floor = SIZE / hashRate + SIZE / nodeRate;
  console.log(
    `fsck of ${SIZE.toLocaleString("en-US")} entries: ${fmt(seconds, 1)} s (${fmt(SIZE / seconds)} entries/s; ${fmt(seconds / floor, 1)} × the raw hashing floor of ${fmt(floor, 2)} s) — ${result.ok ? "intact" : result.code}`,
  );
  ledger.close();
  rmSync(dir, { recursive: true, force: true });
}

await main();
