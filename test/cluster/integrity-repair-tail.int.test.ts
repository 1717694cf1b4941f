/**
 * The LAST entry row deleted under a running node (issue 11), on real etcd with three in-process online
 * nodes (`cluster-nodes.ts`: each its own ledger.db and service.db, a ClusterLedger following the
 * command log) and each node's integrity wired as `service/cluster/cluster-node.ts` wires it: its own
 * connections to ledger.db, the rolling full check over its files by path (`runFullCheckInWorker`; from
 * the sources it runs the worker's job in this thread), its peer route on a real mTLS endpoint, the repair
 * entry appended through its own port, `ClusterLedger.ledgerRepaired` after the repair's write and
 * `resumeReplica` once its re-check passed.
 *
 * The stored size is MAX(idx) + 1, so the copy just looks one entry shorter. Before the fix the check
 * took that entry's index rows for entries appended since (or found nothing at all), the repair never
 * looked past the shorter size, and the next batch's apply stopped the victim's replica for good
 * (CLUSTER_APPLY_FAILED): the row deleted beyond the published prefix, and while appends go on, were
 * never repaired. Now the size the node applied (`cluster_position.ledger_size`) is what the check and
 * the repair expect; the missing entries are proven once a published checkpoint covers them (asked for
 * when none does, nothing written before), and the replica follows again.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import "reflect-metadata";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { runFullCheckInWorker } from "../../src/cluster/integrity/full-check-thread.js";
import { startNodeIntegrity, type NodeIntegrity } from "../../src/cluster/integrity/node-integrity.js";
import type { RepairOutcome } from "../../src/cluster/integrity/repair.js";
import type { PeerEndpoint } from "../../src/cluster/peer/peer-client.js";
import {
  startPeerServer,
  type PeerRoute,
  type RunningPeerServer,
} from "../../src/cluster/peer/peer-server.js";
import { ClusterError } from "../../src/cluster/errors.js";
import { isCodedError } from "../../src/coded-error.js";
import { type CaMaterial, type IssuedCertificate } from "../../src/crypto/pki/index.js";
import { issueTestNodeCertificates } from "./node-certificates.js";
import { decodeEntry } from "../../src/ledger/entry/canonical-entry.js";
import { openChunkStore, type ChunkStore } from "../../src/store/chunk-store.js";
import { openLogRepairAccess, type LogRepairAccess } from "../../src/store/sqlite-log-repair.js";
import { openSqliteLog, type SqliteLog } from "../../src/store/sqlite-log.js";
import { noteRecord } from "../ledger/records.js";
import { put, testRows } from "../support/write-port-contract.js";
import { nodeSet, until, type NodeSet, type TestNode } from "./cluster-nodes.js";
import { cosigningFixture } from "./cosigning-fixture.js";
import { deleteLastEntryRow } from "./damage.js";
import { useEtcdCluster } from "./etcd-suite.js";

const suite = useEtcdCluster();
const f = cosigningFixture();
const NAMES = ["node1", "node2", "node3"];
let ca: CaMaterial;
let crlPem: string;
const certs = new Map<string, IssuedCertificate>();
let cleanup: (() => Promise<void>)[] = [];
let run = 0;
let unique = 0;

beforeAll(async () => {
  ({ ca, crlPem } = await issueTestNodeCertificates("kenshin tail repair CA", NAMES, certs));
});

afterEach(async () => {
  for (const close of cleanup.reverse()) await close().catch(() => undefined);
  cleanup = [];
});

interface Side {
  readonly node: TestNode;
  readonly integrity: NodeIntegrity;
  readonly repairs: RepairOutcome[];
  readonly errors: unknown[];
  /** What the node's port reported (its replica stopping among them). */
  readonly portErrors: unknown[];
}

interface Cluster {
  readonly set: NodeSet;
  readonly sides: Map<string, Side>;
  side(name: string): Side;
}

const ledgerPath = (n: TestNode): string => join(n.dir, "ledger.db");

/**
 * Three online nodes on a fresh key prefix; each with its integrity and peer endpoint. `cadenceMs`: the
 * sequencer's checkpoint interval (a long one: checkpoints only when asked for).
 */
async function startCluster(cadenceMs: number): Promise<Cluster> {
  run++;
  const base = join(suite.dir(), `tail-${run}`);
  mkdirSync(base, { recursive: true });
  const set = nodeSet({ dir: () => base, prefix: `tail-${run}/`, keys: f });
  const sides = new Map<string, Side>();
  const routes = new Map<string, PeerRoute>();
  const servers = new Map<string, RunningPeerServer>();
  const chunkStores: ChunkStore[] = [];
  cleanup.push(async () => {
    await Promise.all([...sides.values()].map((s) => s.integrity.stop()));
    await Promise.all([...servers.values()].map((s) => s.close()));
    await set.closeAll();
    for (const c of chunkStores) c.close();
  });
  for (const name of NAMES) {
    const cert = certs.get(name) as IssuedCertificate;
    mkdirSync(join(base, name), { recursive: true });
    const chunks = openChunkStore(join(base, name, "chunks.db"));
    chunkStores.push(chunks);
    servers.set(
      name,
      await startPeerServer({
        tls: { caCertPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem, crlPem },
        peers: NAMES.filter((n) => n !== name),
        chunks,
        routes: [
          (req, res, peer) => {
            const route = routes.get(name);
            return route === undefined ? Promise.resolve(false) : route(req, res, peer);
          },
        ],
      }),
    );
  }
  const hosts = suite.cluster().clientUrls();
  for (const [i, name] of NAMES.entries()) {
    const portErrors: unknown[] = [];
    const node = set.start(name, i, hosts, {
      checkpointIntervalMs: cadenceMs,
      onError: (error) => portErrors.push(error),
      // The port cosigns through the node's integrity, started right below (cluster-node.ts does the same).
      cosign: (input) => {
        const side = sides.get(name);
        if (side === undefined) throw new ClusterError("CLUSTER_QUARANTINED", "まだです", {});
        return side.integrity.cosign(input);
      },
    });
    const side = { ...startSide(node, servers), portErrors };
    sides.set(name, side);
    routes.set(name, side.integrity.peerRoute);
  }
  await until("a sequencer", () => set.nodes.some((n) => n.ledger.status().sequencer), 30_000);
  return {
    set,
    sides,
    side: (name) => sides.get(name) as Side,
  };
}

/** One node's integrity as cluster-node-integrity.ts `startIntegrity` wires it. */
function startSide(
  node: TestNode,
  servers: ReadonlyMap<string, RunningPeerServer>,
): Omit<Side, "portErrors"> {
  const path = ledgerPath(node);
  let storage: SqliteLog = openSqliteLog(path);
  let access: LogRepairAccess = openLogRepairAccess(path);
  const cert = certs.get(node.name) as IssuedCertificate;
  const peers: PeerEndpoint[] = NAMES.filter((n) => n !== node.name).map((n) => ({
    name: n,
    url: (servers.get(n) as RunningPeerServer).url,
  }));
  const repairs: RepairOutcome[] = [];
  const errors: unknown[] = [];
  const integrity = startNodeIntegrity({
    node: node.name,
    logKey: f.logKey,
    policy: { cosigners: f.cosignerKeys, quorum: 2 },
    intervalMs: 200,
    files: () => ({ storage, access, serviceDb: node.db }),
    reopen: () => {
      node.ledger.ledgerRepaired();
      storage.close();
      access.close();
      storage = openSqliteLog(path);
      access = openLogRepairAccess(path);
    },
    resumeReplica: () => {
      node.ledger.resumeReplica();
    },
    peers,
    tls: { caCertPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem },
    publishedNote: () => Promise.resolve(node.ledger.newestPublished()?.note),
    appendRepair: async (record) => {
      const [landed] = await node.ledger.append([{ record }]);
      return landed?.index;
    },
    runCheck: (published) =>
      runFullCheckInWorker({
        ledgerDb: path,
        serviceDb: join(node.dir, "service.db"),
        logKey: f.logSigner.verifierKey,
        published: published === undefined ? undefined : { size: published.size, root: published.root },
      }),
    onRepair: (outcome) => repairs.push(outcome),
    onError: (error) => errors.push(error),
    now: () => new Date(),
    timeoutMs: 5000,
  });
  const stop = integrity.stop.bind(integrity);
  return {
    node,
    repairs,
    errors,
    integrity: {
      ...integrity,
      async stop() {
        await stop();
        storage.close();
        access.close();
      },
    },
  };
}

async function appendOn(node: TestNode, count: number): Promise<void> {
  const requests = Array.from({ length: count }, () => ({ record: noteRecord(++unique) }));
  await node.ledger.append(requests, { command: put(`k-${unique}`, node.name) });
}

async function converged(c: Cluster): Promise<void> {
  const nodes = c.set.nodes;
  await until(
    "every node at the same position",
    () => {
      const first = nodes[0] as TestNode;
      return nodes.every(
        (n) => n.ledger.size() === first.ledger.size() && n.ledger.status().seq === first.ledger.status().seq,
      );
    },
    60_000,
  );
}

function entriesHex(n: TestNode): string[] {
  return Array.from({ length: n.ledger.size() }, (_, i) => Buffer.from(n.ledger.entry(i)).toString("hex"));
}

function repairEntries(n: TestNode): { index: number; node: string; checkpoint: number }[] {
  return entriesHex(n).flatMap((hex, index) => {
    const record = decodeEntry(Buffer.from(hex, "hex"));
    if (record.type !== "repair") return [];
    const r = record as unknown as { node: string; checkpoint?: { size: number } };
    return [{ index, node: r.node, checkpoint: r.checkpoint?.size ?? 0 }];
  });
}

/** The victim repaired once, recorded on every node; every copy equal, fsck and the full check clean. */
async function expectHealed(c: Cluster, victim: Side, deleted: number): Promise<RepairOutcome> {
  await until("the repair", () => victim.repairs.some((r) => r.ok), 60_000);
  const outcome = victim.repairs.find((r) => r.ok) as RepairOutcome;
  expect(outcome.ledger?.replaced).toContain(deleted);
  expect(outcome.record).toMatchObject({ type: "repair", node: victim.node.name });
  expect((outcome.record as { sourceNode?: string } | undefined)?.sourceNode).not.toBe(victim.node.name);
  await until("the victim healthy", () => victim.integrity.health.state === "healthy", 30_000);
  // The replica follows again: the victim's own append is applied on it (read-your-writes).
  expect(victim.node.ledger.failure()).toBeUndefined();
  await appendOn(victim.node, 1);
  await converged(c);
  const reference = entriesHex(c.set.nodes[0] as TestNode);
  for (const n of c.set.nodes) {
    expect([n.name, n.ledger.fsck(f.logKey).ok]).toEqual([n.name, true]);
    expect(entriesHex(n)).toEqual(reference);
    expect(testRows(n.db)).toEqual(testRows((c.set.nodes[0] as TestNode).db));
    const repairs = repairEntries(n);
    expect(repairs).toHaveLength(1);
    expect(repairs[0]).toMatchObject({ node: victim.node.name });
    expect(repairs[0]?.checkpoint).toBeGreaterThan(deleted);
    const check = await runFullCheckInWorker({
      ledgerDb: ledgerPath(n),
      serviceDb: join(n.dir, "service.db"),
      logKey: f.logSigner.verifierKey,
    });
    expect([n.name, check.findings]).toEqual([n.name, []]);
  }
  return outcome;
}

/** An online node that is not the sequencer (a sequencer with a short copy prepares nothing). */
function follower(c: Cluster): Side {
  const n = c.set.nodes.find((x) => !x.ledger.status().sequencer) as TestNode;
  return c.side(n.name);
}

const codes = (errors: readonly unknown[]): string[] =>
  errors.flatMap((e) => (isCodedError(e) ? [e.code] : []));

describe("the last entry row deleted under a running node", () => {
  it("inside the published prefix, nothing appended meanwhile: proven under that checkpoint and put back", async () => {
    const c = await startCluster(60_000);
    const victim = follower(c);
    const other = c.set.nodes.find((n) => n !== victim.node) as TestNode;
    for (let i = 0; i < 4; i++) await appendOn(other, 3);
    await converged(c);
    const size = victim.node.ledger.size();
    const cp = await victim.node.ledger.checkpointCovering(size - 1);
    expect(cp.size).toBe(size);
    const deleted = deleteLastEntryRow({ dir: victim.node.dir, ledgerPath: ledgerPath(victim.node) });
    expect(deleted).toBe(size - 1);
    const outcome = await expectHealed(c, victim, deleted);
    expect(outcome.record).toMatchObject({ checkpoint: { size } });
  }, 120_000);

  it("beyond the published prefix, nothing appended meanwhile: unproven (nothing written) until a checkpoint covering it is asked for and published", async () => {
    const c = await startCluster(60_000);
    const victim = follower(c);
    const other = c.set.nodes.find((n) => n !== victim.node) as TestNode;
    for (let i = 0; i < 3; i++) await appendOn(other, 3);
    await converged(c);
    const covered = await victim.node.ledger.checkpointCovering(victim.node.ledger.size() - 1);
    // More entries after the last published checkpoint (the cadence asks for none for a minute).
    await appendOn(other, 2);
    await converged(c);
    const size = victim.node.ledger.size();
    expect(victim.node.ledger.status().published).toBe(covered.size);
    expect(covered.size).toBeLessThan(size - 1);
    const deleted = deleteLastEntryRow({ dir: victim.node.dir, ledgerPath: ledgerPath(victim.node) });
    expect(deleted).toBe(size - 1);
    await expectHealed(c, victim, deleted);
    // The first attempts found no checkpoint covering the entry and wrote nothing; the checkpoint batch
    // asked for stopped the victim's replica at its short copy, and it follows again.
    expect(codes(victim.errors)).toContain("CLUSTER_REPAIR_UNPROVEN");
    expect(codes(victim.portErrors)).toContain("CLUSTER_APPLY_FAILED");
  }, 120_000);

  it("while appends go on on the other nodes (the replica stopped at the short copy resumes after the repair)", async () => {
    const c = await startCluster(300);
    const victim = follower(c);
    const writers = c.set.nodes.filter((n) => n !== victim.node);
    for (let i = 0; i < 3; i++) await appendOn(writers[0] as TestNode, 2);
    await converged(c);
    const appending = { on: true, done: 0, failed: [] as string[] };
    const loop = (async () => {
      for (let k = 0; appending.on; k++) {
        try {
          await appendOn(writers[k % 2] as TestNode, 1 + (k % 3));
          appending.done++;
        } catch (error) {
          appending.failed.push(isCodedError(error) ? error.code : String(error));
        }
        await sleep(20);
      }
    })();
    let deleted = -1;
    try {
      await until("appends going on", () => appending.done >= 5, 30_000);
      deleted = deleteLastEntryRow({ dir: victim.node.dir, ledgerPath: ledgerPath(victim.node) });
      await until("the repair", () => victim.repairs.some((r) => r.ok), 60_000);
      // More appends after the repair, applied by the victim too.
      const after = appending.done;
      await until("appends after the repair", () => appending.done >= after + 5, 30_000);
    } finally {
      appending.on = false;
      await loop;
    }
    expect(appending.failed).toEqual([]);
    await expectHealed(c, victim, deleted);
    // The next batch after the deletion stopped the victim's replica; the repair started it again.
    expect(codes(victim.portErrors)).toContain("CLUSTER_APPLY_FAILED");
  }, 150_000);
});
