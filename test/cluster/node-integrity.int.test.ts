/**
 * The node-level assembly (`startNodeIntegrity`) on three online nodes and the offline node, as a node
 * wires it: its peer route on a real mTLS endpoint, its guarded cosign, its rolling check. Several kinds
 * of damage at once on node2 while transfers go on: found, repaired from peers, recorded, and node2
 * cosigns again, while the other nodes never leave service.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import "reflect-metadata";
import { addCosignatureLines } from "../../src/cluster/checkpoint-cosigner.js";
import { startNodeIntegrity, type NodeIntegrity } from "../../src/cluster/integrity/node-integrity.js";
import type { RepairOutcome } from "../../src/cluster/integrity/repair.js";
import { startPeerServer, type RunningPeerServer } from "../../src/cluster/peer/peer-server.js";
import { type CaMaterial, type IssuedCertificate } from "../../src/crypto/pki/index.js";
import { issueTestNodeCertificates } from "./node-certificates.js";
import { decodeEntry } from "../../src/ledger/entry/canonical-entry.js";
import { fsck } from "../../src/ledger/fsck.js";
import { openPublishedCheckpoint } from "../../src/ledger/verify/published-checkpoint.js";
import { chunkAddress } from "../../src/store/chunk-store.js";
import { corruptChunk, editEntryBytes, editTransferRow } from "./damage.js";
import {
  chunkOf,
  makeIntegrityCluster,
  transferId,
  type IntegrityCluster,
  type TestNode,
} from "./integrity-fixture.js";

const NAMES = ["node1", "node2", "node3", "node4"];
let ca: CaMaterial;
let crlPem: string;
const certs = new Map<string, IssuedCertificate>();
let c: IntegrityCluster;
let servers: RunningPeerServer[];
let integrity: NodeIntegrity[];
let repairs: RepairOutcome[];
let errors: unknown[];

beforeAll(async () => {
  ({ ca, crlPem } = await issueTestNodeCertificates("kenshin node integrity CA", NAMES, certs));
});

/** Every online node cosigns through its integrity guard; published with a quorum. */
function publish(): string {
  const lines: string[] = [];
  const note = (c.nodes[0] as TestNode).ledger.signCheckpoint(c.f.logSigner).note;
  // Every node signs its own copy's checkpoint with the log key; the offline node does not cosign.
  (c.nodes[3] as TestNode).ledger.signCheckpoint(c.f.logSigner);
  for (const node of c.nodes.slice(0, 3)) {
    try {
      const signed = node.ledger.signCheckpoint(c.f.logSigner).note;
      const cosigned = (integrity[node.index] as NodeIntegrity).cosign({
        note: signed,
        logKey: c.f.logKey,
        cosigner: c.f.cosigner(node.index),
        last: node.last,
      });
      node.last = cosigned.state;
      if (signed === note) lines.push(cosigned.line);
    } catch {
      // refused: quarantined or its copy failed the check
    }
  }
  const published = addCosignatureLines(note, lines);
  c.published = {
    note: published,
    checkpoint: openPublishedCheckpoint(published, c.f.logKey, c.policy).checkpoint,
  };
  return published;
}

beforeEach(async () => {
  c = makeIntegrityCluster({ nodes: 4 });
  repairs = [];
  errors = [];
  await c.transferBatch(1, 8);
  servers = [];
  integrity = [];
  // Servers first (their URLs are the peers' addresses), each serving its node's integrity route.
  const routes: NodeIntegrity["peerRoute"][] = [];
  for (const node of c.nodes) {
    const cert = certs.get(node.name) as IssuedCertificate;
    servers.push(
      await startPeerServer({
        tls: { caCertPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem, crlPem },
        peers: NAMES.filter((n) => n !== node.name),
        chunks: node.chunks,
        routes: [(req, res, peer) => (routes[node.index] as NodeIntegrity["peerRoute"])(req, res, peer)],
      }),
    );
  }
  for (const node of c.nodes) {
    const cert = certs.get(node.name) as IssuedCertificate;
    const it = startNodeIntegrity({
      node: node.name,
      logKey: c.f.logKey,
      policy: c.policy,
      intervalMs: 100,
      files: () => ({
        storage: node.ledger.storage,
        access: node.access,
        serviceDb: node.db,
        chunks: node.chunks,
      }),
      reopen: () => {
        c.reopen(node);
      },
      peers: c.nodes
        .filter((m) => m !== node)
        .map((m) => ({ name: m.name, url: (servers[m.index] as RunningPeerServer).url })),
      tls: { caCertPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem },
      publishedNote: () => Promise.resolve(c.published?.note),
      appendRepair: async (record) => {
        await c.append([{ record }]);
        return node.ledger.storage.size() - 1;
      },
      chunkOwner: (address) => c.chunkOwners.get(address),
      onRepair: (outcome) => repairs.push(outcome),
      onError: (error) => errors.push(error),
      now: () => new Date(),
      timeoutMs: 5000,
    });
    integrity.push(it);
    routes.push(it.peerRoute);
  }
  publish();
});

afterEach(async () => {
  await Promise.all(integrity.map((i) => i.stop()));
  await Promise.all(servers.map((s) => s.close()));
  c.close();
});

// Bounded, but generous: under a loaded machine a check plus a repair takes seconds.
async function until(cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("node integrity assembly", () => {
  it("an entry, a transfer row and a chunk damaged at once on node2 while transfers go on: quarantined, repaired, recorded, cosigning again", async () => {
    const n = c.nodes[1] as TestNode;
    const health = (integrity[1] as NodeIntegrity).health;
    const states: string[] = [];
    health.onChange((s) => states.push(s.state));
    editEntryBytes(n, 13);
    editTransferRow(n, transferId(2), "status = 'converted'");
    corruptChunk(n, chunkAddress(chunkOf(6)));
    await c.transferBatch(9, 2);
    publish();
    // A run before the new checkpoint was published may find the damage first and fail to repair what
    // is not covered yet; it stays quarantined and the next run repairs.
    await until(() => repairs.some((r) => r.ok));
    const outcome = repairs.find((r) => r.ok) as RepairOutcome;
    expect(outcome.ok).toBe(true);
    expect(states).toContain("quarantined");
    expect(states).toContain("repairing");
    expect(health.state).toBe("healthy");
    expect(outcome.record).toMatchObject({
      type: "repair",
      node: "node2",
      range: { from: 13, to: 14 },
      what: expect.arrayContaining(["entries", "transfer-rows", "chunks"]) as string[],
      transfers: [transferId(2)],
      chunks: [chunkAddress(chunkOf(6))],
    });
    for (const node of c.nodes) {
      expect(fsck(node.ledger.storage, c.f.logKey).ok).toBe(true);
      const last = decodeEntry(node.ledger.storage.entry(node.ledger.storage.size() - 1).entry);
      expect(last).toMatchObject({ type: "repair", node: "node2" });
    }
    await c.transferBatch(11, 1);
    expect(publish()).toContain("kenshin.example/node2");
    // The other nodes never left service.
    for (const i of [0, 2]) expect((integrity[i] as NodeIntegrity).health.state).toBe("healthy");
  }, 90_000);

  it("a new entry edited before node2 cosigns: the guard refuses, node2 is quarantined and repaired once it is published by the others", async () => {
    await c.transferBatch(9, 1);
    const n = c.nodes[1] as TestNode;
    editEntryBytes(n, 42);
    const published = publish();
    expect(published).not.toContain("kenshin.example/node2");
    expect((integrity[1] as NodeIntegrity).health.state).not.toBe("healthy");
    await until(() => repairs.some((r) => r.ok));
    expect(repairs.find((r) => r.ok)?.ledger?.replaced).toEqual([42]);
    expect((integrity[1] as NodeIntegrity).health.state).toBe("healthy");
  }, 90_000);
});
