/**
 * Detection, localisation and repair of each kind of damage issue 11 lists, on one node of three (plus
 * the offline node as the source of last resort): real SQLite files per node, real peer endpoints over
 * mutual TLS 1.3 with node certificates from a CA made at test start, the rolling check on a short
 * schedule. After each repair: the repair entry is on every node, fsck and the full check pass on every
 * node, the repaired node's copy equals the others', and it cosigns again.
 */
import type { RecordInput } from "../../src/ledger/entry/operation-record.js";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import "reflect-metadata";
import {
  createLedgerPeerClient,
  type LedgerPeerClient,
} from "../../src/cluster/integrity/ledger-peer-client.js";
import { ledgerPeerRoutes } from "../../src/cluster/integrity/ledger-peer-routes.js";
import { runFullCheck } from "../../src/cluster/integrity/full-check.js";
import { repairDamage, type RepairDeps, type RepairOutcome } from "../../src/cluster/integrity/repair.js";
import { startRollingCheck } from "../../src/cluster/integrity/rolling-check.js";
import { createPeerClient, type PeerClient, type PeerEndpoint } from "../../src/cluster/peer/peer-client.js";
import { startPeerServer, type RunningPeerServer } from "../../src/cluster/peer/peer-server.js";
import { type CaMaterial, type IssuedCertificate } from "../../src/crypto/pki/index.js";
import { issueTestNodeCertificates } from "./node-certificates.js";
import { decodeEntry } from "../../src/ledger/entry/canonical-entry.js";
import { fsck } from "../../src/ledger/fsck.js";
import { chunkAddress } from "../../src/store/chunk-store.js";
import {
  consistentRewrite,
  corruptChunk,
  deleteEntryKeys,
  deleteEntryRow,
  editEntryBytes,
  deleteTransferRow,
  editTransferRow,
  swapEntryRows,
} from "./damage.js";
import { chunkOf, makeIntegrityCluster, type IntegrityCluster, type TestNode } from "./integrity-fixture.js";

const NAMES = ["node1", "node2", "node3", "node4"];
let ca: CaMaterial;
let crlPem: string;
const certs = new Map<string, IssuedCertificate>();

let c: IntegrityCluster;
let servers: RunningPeerServer[];
let closers: (() => void)[];
let ids: string[];

beforeAll(async () => {
  ({ ca, crlPem } = await issueTestNodeCertificates("kenshin integrity test CA", NAMES, certs));
});

beforeEach(async () => {
  // Three online nodes and the offline node (node4: it follows and keeps a copy, it never cosigns).
  c = makeIntegrityCluster({ nodes: 4 });
  ids = [];
  for (let n = 1; n <= 6; n++) ids.push(await c.transfer(n));
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
const endpoint = (i: number): PeerEndpoint => ({
  name: node(i).name,
  url: (servers[i] as RunningPeerServer).url,
});

function fullCheck(n: TestNode) {
  return runFullCheck({
    storage: n.ledger.storage,
    access: n.access,
    logKey: c.f.logKey,
    published: c.published?.checkpoint,
    serviceDb: n.db,
    chunks: n.chunks,
  });
}

function depsFor(n: TestNode, o: { peers?: PeerEndpoint[]; alarms?: string[] } = {}): RepairDeps {
  const cert = certs.get(n.name) as IssuedCertificate;
  const tls = { caCertPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem };
  const ledgerClient: LedgerPeerClient = createLedgerPeerClient({ tls, timeoutMs: 5000 });
  const chunkClient: PeerClient = createPeerClient({ tls, rounds: 1, pauseMs: 10, timeoutMs: 5000 });
  closers.push(() => {
    ledgerClient.close();
  });
  closers.push(() => {
    chunkClient.close();
  });
  return {
    node: n.name,
    logKey: c.f.logKey,
    policy: c.policy,
    files: () => ({ storage: n.ledger.storage, access: n.access, serviceDb: n.db, chunks: n.chunks }),
    reopen: () => {
      c.reopen(n);
    },
    // Online peers first, the offline node last.
    peers: o.peers ?? c.nodes.filter((m) => m !== n).map((m) => endpoint(m.index)),
    ledgerClient,
    chunkClient,
    publishedNote: () => Promise.resolve(c.published?.note),
    chunkOwner: (address) => c.chunkOwners.get(address),
    health: n.health,
    recheck: () => fullCheck(n),
    // The repair entry goes through the replicated log: every node appends it.
    appendRepair: async (record) => {
      await c.append([{ record }]);
      return n.ledger.storage.size() - 1;
    },
    onUnrepairable: (damage) => {
      o.alarms?.push(damage.address);
      return Promise.resolve();
    },
    now: () => new Date(),
  };
}

/** Runs the rolling check on node n every 50 ms until it has found damage and repaired it. */
async function detectAndRepair(n: TestNode, deps = depsFor(n)): Promise<RepairOutcome> {
  let settle: (o: RepairOutcome) => void = () => undefined;
  let fail: (e: unknown) => void = () => undefined;
  const done = new Promise<RepairOutcome>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  const rolling = startRollingCheck({
    intervalMs: 50,
    health: n.health,
    check: () => fullCheck(n),
    onDamage: async (findings) => {
      try {
        settle(await repairDamage(deps, findings));
      } catch (error) {
        fail(error);
      }
    },
  });
  try {
    return await Promise.race([
      done,
      new Promise<never>((_, reject) =>
        setTimeout(() => {
          reject(new Error("no repair within 45 s"));
        }, 45_000),
      ),
    ]);
  } finally {
    await rolling.stop();
  }
}

function entryBytes(n: TestNode): string[] {
  const out: string[] = [];
  for (const e of n.ledger.storage.scanEntries()) out.push(Buffer.from(e.entry).toString("hex"));
  return out;
}

/** What must hold on every node after a successful repair. */
function expectHealedEverywhere(repaired: TestNode, outcome: RepairOutcome): void {
  expect(outcome.ok).toBe(true);
  expect(repaired.health.state).toBe("healthy");
  const reference = entryBytes(node(0));
  for (const n of c.nodes) {
    expect(fsck(n.ledger.storage, c.f.logKey).ok).toBe(true);
    expect(fullCheck(n).findings).toEqual([]);
    expect(entryBytes(n)).toEqual(reference);
    const last = decodeEntry(n.ledger.storage.entry(n.ledger.storage.size() - 1).entry);
    expect(last).toMatchObject({ type: "repair", node: repaired.name });
  }
  // It cosigns again: the next published checkpoint carries its cosignature.
  const published = c.publish();
  expect(published).toContain(`kenshin.example/${repaired.name}`);
}

describe("repair from a peer over mutual TLS (each kind of damage, on node2)", () => {
  it("an entry's bytes edited: localised by subtree hashes, fetched, proven under the published checkpoint, replaced", async () => {
    const n = node(1);
    editEntryBytes(n, 7);
    // Uploads go on and are published; entry 7 was checked before it was edited, so only the rolling
    // full check (not the watch over new entries) can catch this.
    await c.transfer(7);
    c.publish();
    const outcome = await detectAndRepair(n);
    expect(outcome.ledger?.replaced).toEqual([7]);
    expect(outcome.record).toMatchObject({
      type: "repair",
      node: "node2",
      sourceNode: "node1",
      range: { from: 7, to: 8 },
      what: expect.arrayContaining(["entries"]) as string[],
      checkpoint: { size: c.published?.checkpoint.size },
    });
    // Localisation compared far fewer hashes than there are entries.
    expect(outcome.ledger?.localisation?.compared).toBeLessThan(n.ledger.storage.size());
    expectHealedEverywhere(n, outcome);
  });

  it("an entry row deleted", async () => {
    const n = node(1);
    deleteEntryRow(n, 12);
    const outcome = await detectAndRepair(n);
    expect(outcome.ledger?.replaced).toEqual([12]);
    expectHealedEverywhere(n, outcome);
  });

  it("two rows swapped", async () => {
    const n = node(1);
    swapEntryRows(n, 3, 9);
    const outcome = await detectAndRepair(n);
    expect(outcome.ledger?.replaced).toEqual([3, 9]);
    expectHealedEverywhere(n, outcome);
  });

  it("a consistent rewrite of leaf, stored hashes, interior nodes and re-signed checkpoints (only the cosigned root reveals it)", async () => {
    const n = node(1);
    consistentRewrite(n, 20, c.f.logSigner);
    c.reopen(n);
    expect(fsck(n.ledger.storage, c.f.logKey).ok).toBe(true);
    const outcome = await detectAndRepair(n);
    // Entry 20 and every later one (re-chained) were replaced; the re-signed checkpoints too.
    expect(outcome.ledger?.replaced[0]).toBe(20);
    expect(outcome.record).toMatchObject({
      what: expect.arrayContaining(["entries", "checkpoints"]) as string[],
    });
    expectHealedEverywhere(n, outcome);
  });

  it("a payload chunk corrupted: fetched by its address from a peer, re-hashed on receipt, replaced — the node serving all along, only that transfer held", async () => {
    const n = node(1);
    const address = chunkAddress(chunkOf(3));
    const owner = c.chunkOwners.get(address) as string;
    expect(owner).toBe(ids[2]);
    corruptChunk(n, address);
    const states: string[] = [];
    n.health.onChange((h) => states.push(h.state));
    // The real peer client, looked at the moment the chunk is fetched: the owner is held, the node serves.
    const deps = depsFor(n);
    const real = deps.chunkClient as PeerClient;
    const seen: { held: boolean; other: boolean; serving: boolean }[] = [];
    const watched: PeerClient = {
      fetchChunk: (a, peers) => {
        seen.push({
          held: n.health.isRepairing(owner),
          other: n.health.isRepairing(ids[0] as string),
          serving: n.health.serving(),
        });
        return real.fetchChunk(a, peers);
      },
      pushChunk: (peer, a, bytes) => real.pushChunk(peer, a, bytes),
      pushToQuorum: (peers, a, bytes, required) => real.pushToQuorum(peers, a, bytes, required),
      close: () => {
        real.close();
      },
    };
    const outcome = await detectAndRepair(n, { ...deps, chunkClient: watched });
    expect(seen).toEqual([{ held: true, other: false, serving: true }]);
    expect(states.filter((s) => s !== "healthy")).toEqual([]);
    expect(n.health.isRepairing(owner)).toBe(false);
    expect(n.health.snapshot().repairs.at(-1)).toMatchObject({ what: ["chunks"], fromNode: "node1" });
    expect(outcome.record).toMatchObject({ what: ["chunks"], chunks: [address], sourceNode: "node1" });
    expect(Buffer.from(n.chunks.get(address) ?? []).equals(Buffer.from(chunkOf(3)))).toBe(true);
    expectHealedEverywhere(n, outcome);
  });

  it("a service.db transfer row edited (status, standard hash): a peer's row taken only because it matches the entries", async () => {
    const n = node(1);
    editTransferRow(n, ids[0] as string, "status = 'sent'");
    editTransferRow(n, ids[4] as string, `standard_sha256 = '${"0".repeat(64)}'`);
    const outcome = await detectAndRepair(n);
    expect(outcome.record).toMatchObject({ what: ["transfer-rows"], transfers: [ids[0], ids[4]] });
    expect(n.db.prepare("SELECT status FROM transfers WHERE id = ?").get(ids[0])).toEqual({
      status: "received",
    });
    expectHealedEverywhere(n, outcome);
  });

  it("a service.db transfer row deleted while the peers agree with it: a peer's whole row inserted again", async () => {
    const n = node(1);
    const row = (t: TestNode): unknown => t.db.prepare("SELECT * FROM transfers WHERE id = ?").get(ids[3]);
    const before = row(n);
    deleteTransferRow(n, ids[3] as string);
    const outcome = await detectAndRepair(n);
    expect(outcome.record).toMatchObject({
      what: ["transfer-rows"],
      transfers: [ids[3]],
      sourceNode: "node1",
    });
    expect(row(n)).toEqual(before);
    expectHealedEverywhere(n, outcome);
  });

  it("a transfer's entry_keys rows deleted: re-derived from the entries", async () => {
    const n = node(1);
    expect(deleteEntryKeys(n, ids[2] as string)).toBe(5);
    const outcome = await detectAndRepair(n);
    expect(outcome.record).toMatchObject({ what: ["index-keys"] });
    expect(n.ledger.storage.findByKey(`transfer:${ids[2] as string}`)).toHaveLength(5);
    expectHealedEverywhere(n, outcome);
  });

  it("a peer with the same damage is skipped; the next one that proves is used", async () => {
    const n = node(1);
    editEntryBytes(n, 5);
    // node1's stored leaf hashes and nodes still answer as before, but its entry bytes are bad too:
    // what it sends does not prove, so node3's copy is taken.
    editEntryBytes(node(0), 5);
    const outcome = await detectAndRepair(n, depsFor(n, { peers: [endpoint(0), endpoint(2), endpoint(3)] }));
    expect(outcome.ok).toBe(true);
    expect(outcome.record).toMatchObject({ sourceNode: "node3" });
    expect(outcome.ledger?.skipped).toEqual([{ peer: "node1", code: "LEDGER_PROOF_INVALID" }]);
  });

  it("the offline node is the source of last resort when both online peers are unreachable", async () => {
    const n = node(1);
    editEntryBytes(n, 9);
    const down: PeerEndpoint[] = [
      { name: "node1", url: "https://127.0.0.1:1" },
      { name: "node3", url: "https://127.0.0.1:1" },
    ];
    const outcome = await detectAndRepair(n, depsFor(n, { peers: [...down, endpoint(3)] }));
    expect(outcome.record).toMatchObject({ sourceNode: "node4" });
    expectHealedEverywhere(n, outcome);
  });

  it("a chunk bad on every copy: the transfer is marked damaged, the alarm raised, wrong bytes never served", async () => {
    const n = node(1);
    const address = chunkAddress(chunkOf(4));
    for (const m of c.nodes) corruptChunk(m, address);
    const alarms: string[] = [];
    const states: string[] = [];
    n.health.onChange((h) => states.push(h.state));
    const outcome = await detectAndRepair(n, depsFor(n, { alarms }));
    // No copy is good: the transfer is marked, never the whole node taken out.
    expect(states.filter((s) => s !== "healthy")).toEqual([]);
    expect(n.health.isRepairing(ids[3] as string)).toBe(false);
    expect(outcome.ok).toBe(true);
    expect(outcome.unrepaired).toEqual([address]);
    expect(alarms).toEqual([address]);
    expect(n.health.isDamaged(ids[3] as string)).toBe(true);
    expect(n.health.snapshot()).toMatchObject({ state: "healthy", damagedTransfers: [ids[3]] });
    expect(outcome.record).toMatchObject({ outcome: "serious-failure", unrepaired: [address] });
    expect(() => n.chunks.get(address)).toThrow(
      expect.objectContaining({ code: "STORE_CHUNK_HASH_MISMATCH" }) as Error,
    );
  });
});

/** The alarm entry of damage no copy could repair, as `service/transfers/damage.ts` appends it. */
function damageAlarm(transfer: string, address: string, time: string): RecordInput {
  return {
    time,
    actor: { id: "monitor", role: "system" },
    institution: "-",
    outcome: "serious-failure",
    outcomeDesc: `transfer-damaged: ${transfer} chunk ${address} bad on every copy`,
    source: { observer: "node1" },
    type: "alert",
    kind: "transfer-damaged",
    count: 1,
    threshold: 0,
    windowMinutes: 0,
    subject: transfer,
  };
}

function damageRows(n: TestNode): unknown[] {
  return n.db.prepare("SELECT * FROM transfer_damage ORDER BY transfer_id").all();
}

describe("transfer_damage rows are checked against the alarm entries that commit them", () => {
  it("a row deleted, one edited, one inserted without an alarm: found, put back from a peer, recorded", async () => {
    // Two transfers marked damaged the way the replicated command does it: the alert entry and the row
    // (its entry's index and time, the chunk address) in one batch on every node.
    const at = "2026-12-01T09:30:00.000Z";
    for (const i of [4, 5]) {
      const id = ids[i] as string;
      const address = chunkAddress(chunkOf(i + 1));
      const index = node(0).ledger.storage.size();
      await c.append([{ record: damageAlarm(id, address, at) }], (db) => {
        db.prepare(
          "INSERT INTO transfer_damage (transfer_id, address, marked_at, entry_index) VALUES (?, ?, ?, ?)",
        ).run(id, address, at, index);
      });
    }
    c.publish();
    for (const m of c.nodes) expect([m.name, fullCheck(m).findings]).toEqual([m.name, []]);
    const reference = damageRows(node(0));
    expect(reference).toHaveLength(2);

    const n = node(1);
    n.db.prepare("DELETE FROM transfer_damage WHERE transfer_id = ?").run(ids[4]);
    n.db
      .prepare("UPDATE transfer_damage SET entry_index = entry_index - 1 WHERE transfer_id = ?")
      .run(ids[5]);
    // A mark no alarm committed: it would refuse a good transfer to both parties.
    n.db
      .prepare(
        "INSERT INTO transfer_damage (transfer_id, address, marked_at, entry_index) VALUES (?, ?, ?, 3)",
      )
      .run(ids[0], "ab".repeat(32), at);
    const found = fullCheck(n).findings.filter((f) => f.kind === "damage-row");
    expect(found.map((f) => [f.transfer, f.field]).sort()).toEqual(
      [
        [ids[0], "entries"],
        [ids[4], "row"],
        [ids[5], "entry_index"],
      ].sort(),
    );

    const outcome = await detectAndRepair(n);
    expect(outcome.record).toMatchObject({ what: ["transfer-rows"], sourceNode: "node1" });
    expect([...((outcome.record as { transfers?: string[] }).transfers ?? [])].sort()).toEqual(
      [ids[0], ids[4], ids[5]].sort(),
    );
    expect(damageRows(n)).toEqual(reference);
    expectHealedEverywhere(n, outcome);
  });
});
