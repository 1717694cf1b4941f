/**
 * The cluster benchmark with one OS process per node (as in production, where each node is its own
 * machine): three online node processes (`test/cluster/cluster-member.js`, the built ClusterLedger on its
 * own ledger.db and service.db — the same process the SIGKILL proof uses) on a real 3-member etcd 3.4.
 * Appends are offered open-loop by the clock, spread over the three; a line per acknowledgement and per
 * published size comes back on each process's stdout. With `handOver`, each process serves its peer
 * endpoint (mutual TLS, node certificates from a CA made at start) and hands its commands to the
 * sequencer over it, as a production node does; without, every command goes as a pending record.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3 } from "etcd3";
import { createCertificateAuthority, createCrl, issueNodeCertificate } from "../../src/crypto/pki/index.js";
import { formatSignerKey, generateNoteKey } from "../../src/crypto/note-key.js";
import { createCosigner, createNoteSigner } from "../../src/crypto/note-signer.js";

export interface ProcessRun {
  offered: number;
  acked: number;
  latencies: number[];
  toPublished: number[];
  firstAt: number;
  lastAck: number;
  lastPublished: number;
  /** Commands ordered as handed over (id marker "direct"), and pending records written. */
  direct: number;
  pendingRecords: number;
}

const NAMES = ["node1", "node2", "node3"];

/** Writes the peer endpoints' CA, CRL and node certificates where the member processes read them. */
async function writePeerTls(dir: string): Promise<void> {
  const now = new Date();
  const ca = await createCertificateAuthority({ commonName: "bench CA", now, validityDays: 2 });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "ca.pem"), ca.certPem);
  writeFileSync(join(dir, "crl.pem"), await createCrl(ca, { revoked: [], now, nextUpdateDays: 1 }));
  for (const nodeName of NAMES) {
    const cert = await issueNodeCertificate(ca, { nodeName, hostNames: ["127.0.0.1"], now, validityDays: 2 });
    writeFileSync(join(dir, `${nodeName}.cert.pem`), cert.certPem);
    writeFileSync(join(dir, `${nodeName}.key.pem`), cert.keyPem);
  }
}

export async function runProcesses(o: {
  dir: string;
  hosts: string[];
  rate: number;
  seconds: number;
  now: () => number;
  handOver: boolean;
  /** The etcd cluster's --max-txn-ops (bounds the commands a batch takes, as for the in-process nodes). */
  maxTxnOps: number;
}): Promise<ProcessRun> {
  const member = join(process.cwd(), "test/cluster/cluster-member.js");
  const prefix = `bench-proc-${o.rate}/`;
  const log = generateNoteKey("bench.kenshin.example/log");
  const witnesses = [1, 2, 3].map((i) => generateNoteKey(`bench.kenshin.example/node${i}`));
  const cosigners = witnesses.map((k) => createCosigner(k, Date.now).verifierKey).join(",");
  const run: ProcessRun = {
    offered: 0,
    acked: 0,
    latencies: [],
    toPublished: [],
    firstAt: o.now(),
    lastAck: 0,
    lastPublished: 0,
    direct: 0,
    pendingRecords: 0,
  };
  const tlsDir = join(o.dir, `${prefix.replace("/", "")}-tls`);
  if (o.handOver) await writePeerTls(tlsDir);
  const peerPorts = new Map<string, number>();
  const client = new Etcd3({ hosts: o.hosts, dialTimeout: 2000 });
  const pendingWatch = await client.watch().prefix(`${prefix}pending/`).create();
  pendingWatch.on("put", () => {
    run.pendingRecords++;
  });
  const started = new Map<string, number>();
  const procs: ChildProcess[] = [];
  const ready: Promise<void>[] = [];
  const index = new Map<string, number>();
  // Per node: acknowledged ids not yet covered, in append order, and the published size it reported.
  const waiting: { id: string; t0: number }[][] = [];
  for (const [i, name] of NAMES.entries()) {
    const dir = join(o.dir, `${prefix.replace("/", "")}-${name}`);
    mkdirSync(dir, { recursive: true });
    const proc = spawn(process.execPath, [member, o.hosts.join(","), prefix, name, dir, "online"], {
      stdio: ["pipe", "pipe", "inherit"],
      env: {
        ...process.env,
        KENSHIN_TEST_LOG_KEY: formatSignerKey(log),
        KENSHIN_TEST_LOG_VKEY: createNoteSigner(log).verifierKey,
        KENSHIN_TEST_NODE_KEY: formatSignerKey(witnesses[i] as (typeof witnesses)[number]),
        KENSHIN_TEST_COSIGNERS: cosigners,
        KENSHIN_TEST_REPORT_PUBLISHED: "1",
        KENSHIN_TEST_MAX_TXN_OPS: String(o.maxTxnOps),
        ...(o.handOver
          ? { KENSHIN_TEST_PEER_TLS: tlsDir, KENSHIN_TEST_PEERS: NAMES.filter((n) => n !== name).join(",") }
          : {}),
      },
    });
    procs.push(proc);
    const mine: { id: string; t0: number }[] = [];
    waiting.push(mine);
    ready.push(
      new Promise<void>((resolve) => {
        createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on("line", (line) => {
          const msg = JSON.parse(line) as {
            ready?: boolean;
            peerPort?: number;
            ack?: string;
            publishedSize?: number;
            index?: number;
          };
          if (msg.peerPort !== undefined) {
            peerPorts.set(name, msg.peerPort);
            // Once every process serves its endpoint, each is told the others' (it then starts its ledger).
            if (peerPorts.size === NAMES.length) {
              procs.forEach((p, k) => {
                const others = NAMES.filter((_, j) => j !== k).map((n) => ({
                  name: n,
                  url: `https://127.0.0.1:${peerPorts.get(n) ?? 0}`,
                }));
                p.stdin?.write(`peers ${JSON.stringify(others)}\n`);
              });
            }
          }
          if (msg.ready === true) resolve();
          if (msg.ack !== undefined && msg.index !== undefined) index.set(msg.ack, msg.index);
          if (msg.ack !== undefined) {
            const t0 = started.get(msg.ack);
            if (t0 === undefined) return;
            const t = o.now();
            run.latencies.push(t - t0);
            run.lastAck = t;
            run.acked++;
            mine.push({ id: msg.ack, t0 });
            mine.sort((a, b) => (index.get(a.id) ?? 0) - (index.get(b.id) ?? 0));
          }
          if (msg.publishedSize !== undefined) {
            // The member appends in order per node; its acknowledged ids below the published size are covered.
            const size = msg.publishedSize;
            while (mine.length > 0 && (index.get((mine[0] as { id: string }).id) ?? Infinity) < size) {
              const w = mine.shift() as { id: string; t0: number };
              run.lastPublished = o.now();
              run.toPublished.push(run.lastPublished - w.t0);
            }
          }
        });
      }),
    );
  }
  await Promise.all(ready);
  await sleep(3000);
  const t0 = o.now();
  run.firstAt = t0;
  while (o.now() - t0 < o.seconds * 1000) {
    const due = Math.floor(((o.now() - t0) / 1000) * o.rate);
    while (run.offered < due) {
      const id = `p${run.offered}`;
      started.set(id, o.now());
      procs[run.offered % procs.length]?.stdin?.write(`append ${id}\n`);
      run.offered++;
    }
    await sleep(5);
  }
  const end = o.now() + 60_000;
  while ((run.acked < run.offered || waiting.some((w) => w.length > 0)) && o.now() < end) await sleep(20);
  for (const p of procs) p.kill("SIGKILL");
  await pendingWatch.cancel();
  const markers = Object.values(await client.getAll().prefix(`${prefix}ids/`).strings());
  run.direct = markers.filter((m) => m === "direct").length;
  client.close();
  return run;
}
