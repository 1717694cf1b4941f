/**
 * Cluster benchmark: the cluster's ledger write port (`src/cluster/cluster-ledger.ts`) on a real 3-member
 * etcd 3.4 cluster on 127.0.0.1, three in-process nodes each with its own etcd client, ledger.db and
 * service.db. Appends of one upload record each, with its state command (one row insert), are offered
 * open-loop at each rate for a few seconds, spread over the three nodes. Printed per rate: offered and
 * acknowledged appends/s, acknowledgement latency (the node that took it applied it: ordered through
 * etcd, durable in a Raft majority's fsynced WAL, applied to its own files) p50/p99/max, and the time
 * until a published checkpoint (log-signed by every node, cosigned by 2 of 3 after each checked its own
 * root) covers the entry on its node, p50/p99 and entries/s. Beside it, in the same run, the embedded
 * node's write port offered the same appends with the same state command at the same rates.
 *
 *   npm run bench:cluster        (CLUSTER_BENCH_RATES=500,2000,5000 CLUSTER_BENCH_SECONDS=5;
 *                                 CLUSTER_BENCH_PROCESSES=0 skips the one-process-per-node runs)
 *
 * Benchmarks are not tests: nothing here asserts on time. On a shared 2-core machine etcd, the three
 * nodes and the benchmark compete for CPU, so figures are pessimistic.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3 } from "etcd3";
import { ClusterLedger } from "../../src/cluster/cluster-ledger.js";
import type { ApplyCommand } from "../../src/cluster/state-command.js";
import { startBenchPeers } from "./peer-endpoints.js";
import { runProcesses } from "./processes.js";
import { startEtcdCluster } from "../../src/cluster/processes/etcd-cluster.js";
import { generateNoteKey, type NoteKey } from "../../src/crypto/note-key.js";
import { createCosigner, createNoteSigner } from "../../src/crypto/note-signer.js";
import { EmbeddedLedger } from "../../src/ledger/embedded-ledger.js";
import { parseVerifierKey } from "../../src/ledger/verify/verifier-key.js";
import { openServiceDb } from "../../src/store/service-db.js";
import { createSqliteLog } from "../../src/store/sqlite-log.js";
import { sqliteOutbox } from "../../src/store/sqlite-outbox.js";
import { uploadRecord } from "../support/upload-record.js";

const RATES = (process.env["CLUSTER_BENCH_RATES"] ?? "500,2000,5000").split(",").map(Number);
const SECONDS = Number(process.env["CLUSTER_BENCH_SECONDS"] ?? 5);
const TICK_MS = 10;
/** etcd --max-txn-ops for this run: lets one batch carry up to ~1,000 commands (etcd's default is 128). */
const MAX_TXN_OPS = Number(process.env["CLUSTER_BENCH_MAX_TXN_OPS"] ?? 2048);
/** CLUSTER_BENCH_HAND_OVER=0: nodes without peer endpoints (each command goes the pending-record path). */
const HAND_OVER = process.env["CLUSTER_BENCH_HAND_OVER"] !== "0";

const dir = mkdtempSync(join(tmpdir(), "kenshin-bench-cluster-"));
const now = (): number => performance.now();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

interface Result {
  rate: number;
  offered: number;
  acked: number;
  refused: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  /** Offer → a published (quorum-cosigned) checkpoint covering the entry, seen on its node. */
  pub50: number;
  pub99: number;
  pubPerSecond: number;
  batches: number;
  /** Commands a batch ordered as handed over (id marker "direct"), and pending records written. */
  direct: number;
  pendingRecords: number;
}

/** The bench's state machine: one row per upload (the shape of a real transfer row insert). */
const benchApplier: ApplyCommand = (command, results, db) => {
  const { transfer } = command.args as { transfer: string };
  db.prepare("INSERT INTO bench_transfers (id, entry) VALUES (?, ?)").run(transfer, results[0]?.index ?? -1);
};

async function runRate(hosts: string[], rate: number): Promise<Result> {
  const prefix = `bench-${rate}-${randomBytes(3).toString("hex")}/`;
  const log = generateNoteKey("bench.kenshin.example/log");
  const witnesses = [1, 2, 3].map((i) => generateNoteKey(`bench.kenshin.example/node${i}`));
  const policy = {
    cosigners: witnesses.map((k) => parseVerifierKey(createCosigner(k, Date.now).verifierKey)),
    quorum: 2,
  };
  const names = ["node1", "node2", "node3"];
  const clients = names.map(() => new Etcd3({ hosts, dialTimeout: 2000 }));
  const peers = HAND_OVER ? await startBenchPeers(join(dir, prefix.replace("/", "")), names) : undefined;
  const nodes = names.map((name, i) => {
    const db = openServiceDb(join(dir, `${prefix.replace("/", "")}-${name}-service.db`), { create: true });
    db.exec(
      "CREATE TABLE IF NOT EXISTS bench_transfers (id TEXT PRIMARY KEY, entry INTEGER NOT NULL) STRICT",
    );
    const logSigner = createNoteSigner(log);
    const ledger = new ClusterLedger({
      client: clients[i] as Etcd3,
      prefix,
      nodeName: name,
      storage: createSqliteLog({
        path: join(dir, `${prefix.replace("/", "")}-${name}-ledger.db`),
        origin: logSigner.name,
        verifierKey: logSigner.verifierKey,
      }),
      db,
      applyCommand: benchApplier,
      logSigner,
      cosigner: createCosigner(witnesses[i] as NoteKey, Date.now),
      policy,
      leaseTtlSeconds: 3,
      maxTxnOps: MAX_TXN_OPS,
      ...(peers !== undefined ? { catchUp: peers.peersOf(name) } : {}),
    }).start();
    peers?.mount(name, ledger.peerRoute());
    return { name, db, ledger };
  });
  for (let i = 0; i < 100 && !nodes.some((n) => n.ledger.status().sequencer); i++) await sleep(100);

  // Which path the commands took: pending records written (the fallback, or every command without peers).
  let pendingRecords = 0;
  const pendingWatch = await (clients[0] as Etcd3).watch().prefix(`${prefix}pending/`).create();
  pendingWatch.on("put", () => {
    pendingRecords++;
  });
  const latencies: number[] = [];
  const toPublished: number[] = [];
  /** Entries acknowledged but not yet covered by a published checkpoint on their node. */
  const unpublished = nodes.map(() => [] as { index: number; t0: number }[]);
  let refused = 0;
  let lastAck = 0;
  let lastPublished = 0;
  const watch = setInterval(() => {
    nodes.forEach((n, i) => {
      const published = n.ledger.status().published;
      const waiting = unpublished[i] as { index: number; t0: number }[];
      while (waiting.length > 0 && (waiting[0] as { index: number }).index < published) {
        const w = waiting.shift() as { index: number; t0: number };
        lastPublished = now();
        toPublished.push(lastPublished - w.t0);
      }
    });
  }, 5);
  const t0 = now();
  let offered = 0;
  let due: number;
  const inFlight: Promise<void>[] = [];
  while (now() - t0 < SECONDS * 1000) {
    // Open loop by the clock: a starved timer does not lower the offered rate.
    due = ((now() - t0) / 1000) * rate;
    while (offered < Math.floor(due)) {
      const k = offered % nodes.length;
      const node = nodes[k] as (typeof nodes)[number];
      const n = offered;
      const start = now();
      inFlight.push(
        node.ledger
          .append([{ record: uploadRecord(n) }], {
            command: { kind: "bench.upload", args: { transfer: `T-${n}` } },
          })
          .then(
            (r) => {
              const t = now();
              latencies.push(t - start);
              lastAck = t;
              const waiting = unpublished[k] as { index: number; t0: number }[];
              waiting.push({ index: (r[0] as { index: number }).index, t0: start });
              waiting.sort((a, b) => a.index - b.index);
            },
            () => {
              refused++;
            },
          ),
      );
      offered++;
    }
    await sleep(TICK_MS);
  }
  await Promise.race([Promise.all(inFlight), sleep(60_000)]);
  const deadline = now() + 30_000;
  while (unpublished.some((u) => u.length > 0) && now() < deadline) await sleep(20);
  clearInterval(watch);
  await pendingWatch.cancel();
  const markers = Object.values(await (clients[0] as Etcd3).getAll().prefix(`${prefix}ids/`).strings());
  const direct = markers.filter((m) => m === "direct").length;
  const batches = nodes[0]?.ledger.stats.applied ?? 0;
  for (const n of nodes) {
    await n.ledger.close();
    n.db.close();
  }
  for (const c of clients) c.close();
  await peers?.close();
  latencies.sort((a, b) => a - b);
  toPublished.sort((a, b) => a - b);
  return {
    rate,
    offered,
    acked: latencies.length,
    refused,
    perSecond: latencies.length / ((lastAck - t0) / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1) ?? NaN,
    pub50: percentile(toPublished, 50),
    pub99: percentile(toPublished, 99),
    pubPerSecond: toPublished.length / ((lastPublished - t0) / 1000),
    batches,
    direct,
    pendingRecords,
  };
}

/**
 * The embedded node's write port (EmbeddedLedger: group commit, outbox in service.db, checkpoints on a
 * cadence), offered the same appends with the same state command open-loop at the same rate, in the same
 * run: acknowledgement latency p50/p99 and entries/s, and the time to a checkpoint covering the entry.
 */
async function embeddedPort(rate: number): Promise<{
  offered: number;
  acked: number;
  perSecond: number;
  p50: number;
  p99: number;
  pub50: number;
  pub99: number;
}> {
  const signer = createNoteSigner(generateNoteKey("bench.kenshin.example/log"));
  const db = openServiceDb(join(dir, `embedded-${rate}-service.db`), { create: true });
  db.exec("CREATE TABLE IF NOT EXISTS bench_transfers (id TEXT PRIMARY KEY, entry INTEGER NOT NULL) STRICT");
  const port = new EmbeddedLedger({
    storage: createSqliteLog({
      path: join(dir, `embedded-${rate}-ledger.db`),
      origin: signer.name,
      verifierKey: signer.verifierKey,
    }),
    signer,
    outbox: sqliteOutbox(db),
    applyCommand: (command, results) => {
      benchApplier(command, results, db);
    },
  });
  const latencies: number[] = [];
  const toCheckpoint: number[] = [];
  let lastAck = 0;
  const t0 = now();
  let offered = 0;
  const inFlight: Promise<void>[] = [];
  while (now() - t0 < SECONDS * 1000) {
    const due = ((now() - t0) / 1000) * rate;
    while (offered < Math.floor(due)) {
      const n = offered;
      const start = now();
      inFlight.push(
        port
          .append([{ record: uploadRecord(1_000_000 + n) }], {
            command: { kind: "bench.upload", args: { transfer: `E-${n}` } },
          })
          .then(async (r) => {
            lastAck = now();
            latencies.push(lastAck - start);
            await port.checkpointCovering((r[0] as { index: number }).index);
            toCheckpoint.push(now() - start);
          }),
      );
      offered++;
    }
    await sleep(TICK_MS);
  }
  await Promise.all(inFlight);
  await port.close();
  db.close();
  latencies.sort((a, b) => a - b);
  toCheckpoint.sort((a, b) => a - b);
  return {
    offered,
    acked: latencies.length,
    perSecond: latencies.length / ((lastAck - t0) / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    pub50: percentile(toCheckpoint, 50),
    pub99: percentile(toCheckpoint, 99),
  };
}

const cluster = await startEtcdCluster({ dir: join(dir, "etcd"), maxTxnOps: MAX_TXN_OPS });
try {
  console.log(
    `etcd 3.4, 3 voting members on 127.0.0.1, --max-txn-ops ${MAX_TXN_OPS}; ${SECONDS} s per rate; nodes in this process (${HAND_OVER ? "commands handed to the sequencer over mutual-TLS peer endpoints" : "no peer endpoints: every command as a pending record"}), then one process per node; load average at the start: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}\n`,
  );
  console.log("three nodes in this process:");
  console.log(
    "offered/s  offered  acked  achieved/s  ack p50  ack p99  ack max  published/s  pub p50  pub p99  batches  cmds/batch  handed  pending recs",
  );
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
        r.p50.toFixed(1).padStart(8),
        r.p99.toFixed(1).padStart(8),
        r.max.toFixed(1).padStart(8),
        r.pubPerSecond.toFixed(0).padStart(11),
        r.pub50.toFixed(1).padStart(8),
        r.pub99.toFixed(1).padStart(8),
        String(r.batches).padStart(8),
        (r.acked / Math.max(1, r.batches)).toFixed(1).padStart(11),
        String(r.direct).padStart(7),
        String(r.pendingRecords).padStart(12),
      ].join(" "),
    );
  }
  if (process.env["CLUSTER_BENCH_PROCESSES"] !== "0") {
    console.log(
      `\none OS process per node (test/cluster/cluster-member.js, the built library; ${HAND_OVER ? "commands handed to the sequencer over each process's peer endpoint" : "no peer endpoints"}):`,
    );
    console.log(
      "offered/s  offered  acked  achieved/s  ack p50  ack p99  ack max  published/s  pub p50  pub p99  handed  pending recs",
    );
    for (const rate of RATES) {
      const r = await runProcesses({
        dir,
        hosts: cluster.clientUrls(),
        rate,
        seconds: SECONDS,
        now,
        handOver: HAND_OVER,
        maxTxnOps: MAX_TXN_OPS,
      });
      r.latencies.sort((a, b) => a - b);
      r.toPublished.sort((a, b) => a - b);
      console.log(
        [
          String(rate).padStart(9),
          String(r.offered).padStart(8),
          String(r.acked).padStart(6),
          (r.acked / ((r.lastAck - r.firstAt) / 1000)).toFixed(0).padStart(11),
          percentile(r.latencies, 50).toFixed(1).padStart(8),
          percentile(r.latencies, 99).toFixed(1).padStart(8),
          (r.latencies.at(-1) ?? NaN).toFixed(1).padStart(8),
          (r.toPublished.length / ((r.lastPublished - r.firstAt) / 1000)).toFixed(0).padStart(11),
          percentile(r.toPublished, 50).toFixed(1).padStart(8),
          percentile(r.toPublished, 99).toFixed(1).padStart(8),
          String(r.direct).padStart(7),
          String(r.pendingRecords).padStart(12),
        ].join(" "),
      );
    }
  }
  console.log("\nembedded node's write port (same run, same appends and state command, same disk):");
  console.log("offered/s  offered  acked  achieved/s  ack p50  ack p99  checkpoint p50  checkpoint p99");
  for (const rate of RATES) {
    const e = await embeddedPort(rate);
    console.log(
      [
        String(rate).padStart(9),
        String(e.offered).padStart(8),
        String(e.acked).padStart(6),
        e.perSecond.toFixed(0).padStart(11),
        e.p50.toFixed(1).padStart(8),
        e.p99.toFixed(1).padStart(8),
        e.pub50.toFixed(1).padStart(15),
        e.pub99.toFixed(1).padStart(15),
      ].join(" "),
    );
  }
  console.log(
    `\nload average at the end: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
