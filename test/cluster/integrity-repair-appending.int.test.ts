/**
 * The repair of a consistent rewrite on a node that keeps appending, as a running cluster node does
 * (integrity-repair.int.test.ts repairs the same damage with nothing appended meanwhile): transfers go on
 * on every node while node2's rolling check finds, localises and repairs the damage, and checkpoints
 * keep being published by the healthy nodes. Two ways the node's in-memory head can be: kept from
 * before the damage (a follower: `LocalOrder.sync` reloads only when the size moved), or loaded from
 * the rewritten copy (the sequencer reloads its head for every trial of a batch). Either way the repair
 * must finish — before the fix it looped on LEDGER_NODE_MISMATCH / a broken chain past the published
 * checkpoint — and leave every node with the same copy, fsck and the full check passing.
 */
import { setTimeout as sleep } from "node:timers/promises";
import "reflect-metadata";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { EntryWatch } from "../../src/cluster/integrity/entry-watch.js";
import { runFullCheck } from "../../src/cluster/integrity/full-check.js";
import { createLedgerPeerClient } from "../../src/cluster/integrity/ledger-peer-client.js";
import { ledgerPeerRoutes } from "../../src/cluster/integrity/ledger-peer-routes.js";
import { repairDamage, type RepairDeps, type RepairOutcome } from "../../src/cluster/integrity/repair.js";
import { startRollingCheck } from "../../src/cluster/integrity/rolling-check.js";
import { createPeerClient } from "../../src/cluster/peer/peer-client.js";
import { startPeerServer, type RunningPeerServer } from "../../src/cluster/peer/peer-server.js";
import { type CaMaterial, type IssuedCertificate } from "../../src/crypto/pki/index.js";
import { issueTestNodeCertificates } from "./node-certificates.js";
import { decodeEntry } from "../../src/ledger/entry/canonical-entry.js";
import { fsck } from "../../src/ledger/fsck.js";
import { Ledger } from "../../src/ledger/ledger.js";
import type { LogStorage } from "../../src/ledger/log-storage.js";
import { openSqliteLog, type SqliteLog } from "../../src/store/sqlite-log.js";
import { openLogRepairAccess } from "../../src/store/sqlite-log-repair.js";
import { consistentRewrite } from "./damage.js";
import { makeIntegrityCluster, type IntegrityCluster, type TestNode } from "./integrity-fixture.js";

const NAMES = ["node1", "node2", "node3", "node4"];
let ca: CaMaterial;
let crlPem: string;
const certs = new Map<string, IssuedCertificate>();
let c: IntegrityCluster;
let servers: RunningPeerServer[];
let closers: (() => void)[];

beforeAll(async () => {
  ({ ca, crlPem } = await issueTestNodeCertificates("kenshin integrity test CA", NAMES, certs));
});

beforeEach(async () => {
  c = makeIntegrityCluster({ nodes: 4 });
  for (let n = 1; n <= 8; n++) await c.transfer(n);
  c.publish();
  servers = [];
  closers = [];
  for (const node of c.nodes) {
    const cert = certs.get(node.name) as IssuedCertificate;
    servers.push(
      await startPeerServer({
        tls: { caCertPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem, crlPem },
        peers: NAMES.filter((n) => n !== node.name),
        chunks: node.chunks,
        // Read per request: the node's ledger object is replaced when its head is reloaded.
        routes: [ledgerPeerRoutes(() => ({ storage: node.ledger.storage, serviceDb: node.db }))],
      }),
    );
  }
});

afterEach(async () => {
  for (const close of closers) close();
  await Promise.all(servers.map((s) => s.close()));
  c.close();
});

afterAll(() => {
  certs.clear();
});

const node = (i: number): TestNode => c.nodes[i] as TestNode;

function fullCheck(n: TestNode, storage: LogStorage = n.ledger.storage) {
  return runFullCheck({
    storage,
    access: n.access,
    logKey: c.f.logKey,
    published: c.published?.checkpoint,
    serviceDb: n.db,
    chunks: n.chunks,
  });
}

/**
 * The victim's integrity side as a cluster node has it (service/cluster/cluster-node-integrity.ts): connections
 * of its own to ledger.db, reopened after a repair, while the node's head (its `Ledger`, appending
 * through the same storage connection all along) is reloaded from the repaired file.
 */
function integritySide(n: TestNode): { storage(): SqliteLog; reopen(): void; close(): void } {
  let storage = openSqliteLog(n.ledgerPath);
  return {
    storage: () => storage,
    reopen() {
      storage.close();
      storage = openSqliteLog(n.ledgerPath);
      n.access.close();
      n.access = openLogRepairAccess(n.ledgerPath);
      n.ledger = new Ledger({ storage: n.ledger.storage });
      n.watch = new EntryWatch({ storage: n.ledger.storage });
    },
    close() {
      storage.close();
    },
  };
}

/** Every append goes through one chain, so all nodes take the same operations in the same order. */
function serialAppends(): { run<T>(fn: () => Promise<T>): Promise<T> } {
  let chain: Promise<unknown> = Promise.resolve();
  return {
    run(fn) {
      const next = chain.then(fn);
      chain = next.catch(() => undefined);
      return next;
    },
  };
}

function depsFor(
  n: TestNode,
  side: ReturnType<typeof integritySide>,
  serial: ReturnType<typeof serialAppends>,
): RepairDeps {
  const cert = certs.get(n.name) as IssuedCertificate;
  const tls = { caCertPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem };
  const ledgerClient = createLedgerPeerClient({ tls, timeoutMs: 5000 });
  const chunkClient = createPeerClient({ tls, rounds: 1, pauseMs: 10, timeoutMs: 5000 });
  closers.push(() => {
    ledgerClient.close();
    chunkClient.close();
  });
  return {
    node: n.name,
    logKey: c.f.logKey,
    policy: c.policy,
    files: () => ({ storage: side.storage(), access: n.access, serviceDb: n.db, chunks: n.chunks }),
    reopen: () => {
      side.reopen();
    },
    peers: c.nodes
      .filter((m) => m !== n)
      .map((m) => ({ name: m.name, url: (servers[m.index] as RunningPeerServer).url })),
    ledgerClient,
    chunkClient,
    publishedNote: () => Promise.resolve(c.published?.note),
    chunkOwner: (address) => c.chunkOwners.get(address),
    health: n.health,
    recheck: () => fullCheck(n, side.storage()),
    appendRepair: (record) =>
      serial.run(async () => {
        await c.append([{ record }]);
        return n.ledger.storage.size() - 1;
      }),
    now: () => new Date(),
  };
}

/**
 * Transfers on every node (and a published checkpoint after each) until stopped; node2's rolling check
 * every 50 ms with the repair; resolves with every repair outcome once one succeeded (bounded).
 */
async function repairWhileAppending(n: TestNode, damage: () => void): Promise<RepairOutcome[]> {
  const serial = serialAppends();
  const run = { on: true };
  let next = 100;
  const appender = (async () => {
    while (run.on) {
      await serial.run(async () => {
        await c.transfer(next++);
        c.publish();
      });
      await sleep(2);
    }
  })();
  // The damage is done while the node is appending (between two transfers).
  await serial.run(() => {
    damage();
    return Promise.resolve();
  });
  const outcomes: RepairOutcome[] = [];
  const side = integritySide(n);
  closers.push(() => {
    side.close();
  });
  const deps = depsFor(n, side, serial);
  let settle: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const errors: unknown[] = [];
  const rolling = startRollingCheck({
    intervalMs: 50,
    health: n.health,
    check: () => fullCheck(n, side.storage()),
    onDamage: async (findings) => {
      try {
        const outcome = await repairDamage(deps, findings);
        outcomes.push(outcome);
        if (outcome.ok) settle();
      } catch (error) {
        errors.push(error);
      }
    },
  });
  try {
    await Promise.race([done, sleep(40_000)]);
  } finally {
    await rolling.stop();
    run.on = false;
    await appender;
  }
  expect(errors).toEqual([]);
  expect(outcomes.map((o) => o.remaining.map((f) => f.code))).toContainEqual([]);
  return outcomes;
}

function entryBytes(n: TestNode): string[] {
  const out: string[] = [];
  for (const e of n.ledger.storage.scanEntries()) out.push(Buffer.from(e.entry).toString("hex"));
  return out;
}

function expectHealedEverywhere(repaired: TestNode, outcomes: readonly RepairOutcome[]): void {
  const ok = outcomes.filter((o) => o.ok);
  expect(ok).toHaveLength(1);
  expect(repaired.health.state).toBe("healthy");
  const reference = entryBytes(node(0));
  for (const n of c.nodes) {
    expect([n.name, fsck(n.ledger.storage, c.f.logKey).ok]).toEqual([n.name, true]);
    expect([n.name, fullCheck(n).findings]).toEqual([n.name, []]);
    expect(entryBytes(n)).toEqual(reference);
    const repairs = entryBytes(n)
      .map((hex) => decodeEntry(Buffer.from(hex, "hex")))
      .filter((r) => r.type === "repair");
    expect(repairs).toHaveLength(1);
    expect(repairs[0]).toMatchObject({ node: repaired.name });
  }
  // It cosigns again: the next published checkpoint carries its cosignature.
  expect(c.publish()).toContain(`kenshin.example/${repaired.name}`);
}

describe("a consistent rewrite repaired while the node keeps appending", () => {
  it("the head kept in memory from before the damage (a follower)", async () => {
    const n = node(1);
    const outcomes = await repairWhileAppending(n, () => {
      consistentRewrite(n, 20, c.f.logSigner);
    });
    expect(outcomes.find((o) => o.ok)?.ledger?.replaced[0]).toBe(20);
    expectHealedEverywhere(n, outcomes);
  }, 60_000);

  it("the head loaded from the rewritten copy (the sequencer reloads it for each batch)", async () => {
    const n = node(1);
    const outcomes = await repairWhileAppending(n, () => {
      consistentRewrite(n, 20, c.f.logSigner);
      n.ledger = new Ledger({ storage: n.ledger.storage });
    });
    expect(outcomes.find((o) => o.ok)?.ledger?.replaced[0]).toBe(20);
    expectHealedEverywhere(n, outcomes);
  }, 60_000);
});
