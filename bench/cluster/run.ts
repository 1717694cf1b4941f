/**
 * Cluster benchmark, command-log part (what exists of the cluster today, README "Cluster (in
 * progress)"): a real 3-member etcd 3.4 cluster on 127.0.0.1, three in-process nodes each with its own
 * etcd client, grouped submitter, sequencer candidate and follower. Commands (≈ 400-byte bodies, the size
 * of a ledger entry) are offered open-loop at each rate for a few seconds, spread over the three nodes;
 * a command is acknowledged when the node that submitted it has applied it from the log (durable in a
 * Raft majority's fsynced WAL, ordered, applied). Printed: offered and achieved commands/s, latency
 * p50/p99/max, batches and commands per batch. Beside it, in the same run, the embedded node's durable
 * ledger appends (SQLite, batches of 100) of the same number of entries.
 *
 *   npm run bench:cluster        (CLUSTER_BENCH_RATES=500,2000,5000 CLUSTER_BENCH_SECONDS=5)
 *
 * Benchmarks are not tests: nothing here asserts on time. On a shared 2-core machine etcd, the three
 * nodes and the benchmark compete for CPU, so figures are pessimistic.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3 } from "etcd3";
import { GENESIS, logKeys } from "../../src/cluster/command-log/command-batch.js";
import { startFollower } from "../../src/cluster/command-log/log-follower.js";
import { startSequencer } from "../../src/cluster/command-log/sequencer.js";
import { createGroupedSubmitter } from "../../src/cluster/command-log/submit-command.js";
import { startEtcdCluster } from "../../src/cluster/processes/etcd-cluster.js";
import { generateNoteKey } from "../../src/crypto/note-key.js";
import { createNoteSigner } from "../../src/crypto/note-signer.js";
import type { RecordInput } from "../../src/ledger/entry/operation-record.js";
import { Ledger } from "../../src/ledger/ledger.js";
import { createSqliteLog } from "../../src/store/sqlite-log.js";

const RATES = (process.env["CLUSTER_BENCH_RATES"] ?? "500,2000,5000").split(",").map(Number);
const SECONDS = Number(process.env["CLUSTER_BENCH_SECONDS"] ?? 5);
const TICK_MS = 10;
/** etcd --max-txn-ops for this run: lets one batch carry up to ~1,000 commands (etcd's default is 128). */
const MAX_TXN_OPS = Number(process.env["CLUSTER_BENCH_MAX_TXN_OPS"] ?? 2048);

const dir = mkdtempSync(join(tmpdir(), "kenshin-bench-cluster-"));
const now = (): number => performance.now();

function body(n: number): unknown {
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

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

interface Result {
  rate: number;
  offered: number;
  acked: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  batches: number;
}

async function runRate(hosts: string[], rate: number): Promise<Result> {
  const keys = logKeys(`bench-${rate}-${randomBytes(3).toString("hex")}/`);
  const names = ["node1", "node2", "node3"];
  const clients = names.map(() => new Etcd3({ hosts, dialTimeout: 2000 }));
  const started = new Map<string, number>();
  const latencies: number[] = [];
  let lastAck = 0;
  let batches = 0;
  const parts = names.map((name, i) => {
    const client = clients[i] as Etcd3;
    const sequencer = startSequencer({
      client,
      keys,
      nodeName: name,
      leaseTtlSeconds: 3,
      idleWaitMs: 50,
      maxTxnOps: MAX_TXN_OPS,
    });
    const follower = startFollower({
      client,
      keys,
      nodeName: name,
      from: GENESIS,
      idleWaitMs: 50,
      pageSize: 500,
      apply: (batch) => {
        if (i === 0) batches++;
        for (const c of batch.commands) {
          if (c.origin !== name) continue;
          const t0 = started.get(c.id);
          if (t0 === undefined) continue;
          const t = now();
          latencies.push(t - t0);
          lastAck = t;
          started.delete(c.id);
        }
      },
    });
    return {
      name,
      sequencer,
      follower,
      submitter: createGroupedSubmitter(client, keys, { maxDelayMs: 2, maxTxnOps: MAX_TXN_OPS }),
    };
  });
  // Wait for a sequencer.
  for (let i = 0; i < 100 && !parts.some((p) => p.sequencer.isLeader()); i++) await sleep(100);

  const perTick = (rate * TICK_MS) / 1000;
  const t0 = now();
  let offered = 0;
  let due = 0;
  while (now() - t0 < SECONDS * 1000) {
    due += perTick;
    while (offered < Math.floor(due)) {
      const part = parts[offered % parts.length];
      if (part === undefined) break;
      const id = `b${offered}-${randomBytes(4).toString("hex")}`;
      started.set(id, now());
      part.submitter.submit({ id, origin: part.name, body: body(offered) }).catch(() => undefined);
      offered++;
    }
    await sleep(TICK_MS);
  }
  const deadline = now() + 60_000;
  while (started.size > 0 && now() < deadline) await sleep(50);
  for (const p of parts) {
    await p.sequencer.stop();
    await p.follower.stop();
  }
  for (const c of clients) c.close();
  latencies.sort((a, b) => a - b);
  return {
    rate,
    offered,
    acked: latencies.length,
    perSecond: latencies.length / ((lastAck - t0) / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? NaN,
    batches,
  };
}

/** The embedded node's durable appends of `count` entries in batches of 100 (same run, same disk). */
async function embedded(count: number): Promise<{ perSecond: number; p50: number; p99: number }> {
  const signer = createNoteSigner(generateNoteKey("bench.kenshin.example/log"));
  const ledger = new Ledger({
    storage: createSqliteLog({
      path: join(dir, `embedded-${count}.db`),
      origin: signer.name,
      verifierKey: signer.verifierKey,
    }),
  });
  const times: number[] = [];
  const start = now();
  for (let n = 0; n < count; n += 100) {
    const t = now();
    await ledger.append(
      Array.from({ length: Math.min(100, count - n) }, (_, i) => ({ record: body(n + i) as RecordInput })),
    );
    times.push(now() - t);
  }
  const perSecond = count / ((now() - start) / 1000);
  ledger.close();
  times.sort((a, b) => a - b);
  return { perSecond, p50: percentile(times, 50), p99: percentile(times, 99) };
}

const cluster = await startEtcdCluster({ dir: join(dir, "etcd"), maxTxnOps: MAX_TXN_OPS });
try {
  console.log(
    `etcd 3.4, 3 voting members on 127.0.0.1, --max-txn-ops ${MAX_TXN_OPS}; ${SECONDS} s per rate; 3 nodes in this process\n`,
  );
  console.log("offered/s  offered  acked  achieved/s  p50 ms  p99 ms  max ms  batches  cmds/batch");
  const results: Result[] = [];
  for (const rate of RATES) {
    const r = await runRate(cluster.clientUrls(), rate);
    results.push(r);
    console.log(
      [
        String(r.rate).padStart(9),
        String(r.offered).padStart(8),
        String(r.acked).padStart(6),
        r.perSecond.toFixed(0).padStart(11),
        r.p50.toFixed(1).padStart(7),
        r.p99.toFixed(1).padStart(7),
        r.max.toFixed(1).padStart(7),
        String(r.batches).padStart(8),
        (r.acked / Math.max(1, r.batches)).toFixed(1).padStart(11),
      ].join(" "),
    );
  }
  const count = Math.max(...results.map((r) => r.offered));
  const e = await embedded(count);
  console.log(
    `\nembedded node (same run): ${count} durable ledger appends in batches of 100: ${e.perSecond.toFixed(0)} entries/s, ` +
      `batch latency p50 ${e.p50.toFixed(1)} ms, p99 ${e.p99.toFixed(1)} ms`,
  );
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
