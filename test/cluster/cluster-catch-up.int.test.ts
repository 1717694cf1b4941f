/**
 * A node that was down while the command log was trimmed past it catches up from a peer over mutual TLS
 * (real node certificates from a test CA, real peer endpoints on 127.0.0.1). It refuses, in turn, a peer
 * whose consistency proof does not lead from its own root to the published checkpoint, a peer that
 * serves a tampered batch (the hash chain anchored at its own position and at etcd's first remaining
 * batch does not close), and a peer whose published checkpoint lacks the cosigner quorum; it takes the
 * gap from the honest peer, then follows etcd again — ending with the same copy and state as the others.
 */
import { join } from "node:path";
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trimLog } from "../../src/cluster/command-log/log-trim.js";
import { logKeys } from "../../src/cluster/command-log/command-batch.js";
import { logPeerRoute } from "../../src/cluster/log-peer-route.js";
import type { PeerEndpoint } from "../../src/cluster/peer/peer-client.js";
import { startPeerServer, type PeerTls, type RunningPeerServer } from "../../src/cluster/peer/peer-server.js";
import {
  createCertificateAuthority,
  createCrl,
  issueNodeCertificate,
  type CaMaterial,
} from "../../src/crypto/pki/index.js";
import { toHex } from "../../src/ledger/verify/encoding.js";
import { openChunkStore, type ChunkStore } from "../../src/store/chunk-store.js";
import { noteRecord } from "../ledger/records.js";
import { put, testRows } from "../support/write-port-contract.js";
import { nodeSet, until, type TestNode } from "./cluster-nodes.js";
import { cosigningFixture } from "./cosigning-fixture.js";
import { useEtcdCluster } from "./etcd-suite.js";

const PREFIX = "catch-up/";
const suite = useEtcdCluster();
const f = cosigningFixture();
const set = nodeSet({ dir: () => suite.dir(), prefix: PREFIX, keys: f });
const NAMES = ["node1", "node2", "node3", "evil", "stale", "forged"] as const;
let ca: CaMaterial;
let crlPem: string;
const tls = {} as Record<(typeof NAMES)[number], PeerTls>;
const servers: RunningPeerServer[] = [];
const stores: ChunkStore[] = [];

async function peerServer(
  name: (typeof NAMES)[number],
  route: ReturnType<typeof logPeerRoute>,
): Promise<PeerEndpoint> {
  const chunks = openChunkStore(join(suite.dir(), `${name}-chunks.db`));
  stores.push(chunks);
  const server = await startPeerServer({
    tls: { ...tls[name], crlPem },
    peers: [...NAMES],
    chunks,
    routes: [route],
  });
  servers.push(server);
  return { name, url: server.url };
}

beforeAll(async () => {
  const now = new Date();
  ca = await createCertificateAuthority({ commonName: "kenshin catch-up test CA", now, validityDays: 30 });
  crlPem = await createCrl(ca, { revoked: [], now, nextUpdateDays: 1 });
  for (const name of NAMES) {
    const cert = await issueNodeCertificate(ca, {
      nodeName: name,
      hostNames: ["127.0.0.1"],
      now,
      validityDays: 30,
    });
    tls[name] = { caCertPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem };
  }
  const hosts = suite.cluster().clientUrls();
  for (const [i, name] of ["node1", "node2", "node3"].entries()) set.start(name, i, hosts);
  await until("a sequencer", () => set.nodes.some((n) => n.ledger.status().sequencer));
}, 60_000);

afterAll(async () => {
  await set.closeAll();
  for (const s of servers) await s.close();
  for (const c of stores) c.close();
});

describe("catch-up from a peer past a trimmed log", () => {
  it("refuses a tampering peer and a peer without a quorum-published checkpoint, catches up from an honest one", async () => {
    const [n1, n2, n3] = set.nodes as [TestNode, TestNode, TestNode];
    for (let j = 0; j < 5; j++)
      await n1.ledger.append([{ record: noteRecord(j) }], { command: put(`before-${j}`, "a") });
    await until("node3 at node1's size", () => n3.ledger.size() === n1.ledger.size());
    await n3.ledger.close();
    // While node3 is down: more commands, then the log is trimmed past it (its operator listed only the
    // nodes that are up).
    for (let j = 0; j < 12; j++) {
      await (j % 2 === 0 ? n1 : n2).ledger.append([{ record: noteRecord(100 + j) }], {
        command: put(`down-${j}`, "b"),
      });
    }
    await n1.ledger.checkpointCovering(n1.ledger.size() - 1);
    await until("node2 at node1's size", () => n2.ledger.size() === n1.ledger.size());
    const keys = logKeys(PREFIX);
    const head = n1.ledger.status().seq;
    await until("progress reported", () => n2.ledger.status().seq === head);
    await new Promise((r) => setTimeout(r, 1200));
    const deleted = await trimLog(n1.client, keys, { below: head, nodes: ["node1", "node2"] });
    expect(deleted).toBeGreaterThan(5);

    // The peers node3 will ask, in this order: one that alters a command, one with an unverifiable
    // published checkpoint, then the honest node1.
    const honest = n1.ledger.peerRoute();
    const evil = logPeerRoute({
      // Alters the first command value after the first batch of each answer. Which batch that is depends
      // on how the commands were batched (a batch may hold only a checkpoint), so look for it.
      batchesFrom: (from, limit) => {
        let altered = false;
        return n1.ledger.batchesFrom(from, limit).map((text, i) => {
          if (altered || i === 0 || !text.includes('"b"')) return text;
          altered = true;
          return text.replace('"b"', '"x"');
        });
      },
      published: () => ({ size: n1.ledger.latestCheckpoint().size, note: n1.ledger.latestCheckpoint().note }),
      consistencyProof: (from, to) => n1.ledger.consistencyProof(from, to).proof,
    });
    const stale = logPeerRoute({
      batchesFrom: (from, limit) => n1.ledger.batchesFrom(from, limit),
      // The log-signed note alone: no cosignatures, so no quorum.
      published: () => {
        const cp = n1.ledger.latestCheckpoint();
        const lines = cp.note.split("\n");
        const logLine = (l: string): boolean =>
          !l.startsWith("\u2014 ") || l.startsWith(`\u2014 ${f.logSigner.name} `);
        return { size: cp.size, note: lines.filter(logLine).join("\n") };
      },
      consistencyProof: (from, to) => n1.ledger.consistencyProof(from, to).proof,
    });
    const forged = logPeerRoute({
      batchesFrom: (from, limit) => n1.ledger.batchesFrom(from, limit),
      published: () => n1.ledger.latestCheckpoint(),
      // A consistency proof that does not lead from node3's own root to the published one.
      consistencyProof: (from, to) =>
        n1.ledger
          .consistencyProof(from, to)
          .proof.map((h) => h.replace(/^./, (c) => (c === "0" ? "1" : "0"))),
    });
    const peers = [
      await peerServer("forged", forged),
      await peerServer("evil", evil),
      await peerServer("stale", stale),
      await peerServer("node1", honest),
    ];
    const errors: string[] = [];
    set.reopen(n3, {
      catchUp: { peers, tls: tls.node3 },
      onError: (e) => errors.push((e as { code?: string }).code ?? "?"),
    });
    await until(
      "node3 caught up",
      () => n3.ledger.size() === n1.ledger.size() && n3.ledger.status().seq === n1.ledger.status().seq,
      30_000,
    );
    expect(n3.ledger.stats.caughtUp).toBeGreaterThan(0);
    expect(n3.ledger.lastCatchUp?.from).toBe("node1");
    expect(n3.ledger.lastCatchUp?.refused).toEqual([
      { peer: "forged", code: "LEDGER_CONSISTENCY_PROOF_INVALID" },
      { peer: "evil", code: "CLUSTER_LOG_GAP" },
      { peer: "stale", code: "LEDGER_COSIGNATURE_QUORUM" },
    ]);
    expect(errors).toContain("CLUSTER_LOG_TRIMMED");
    expect(toHex(n3.ledger.root())).toBe(toHex(n1.ledger.root()));
    expect(testRows(n3.db)).toEqual(testRows(n1.db));
    // And it follows etcd again afterwards, applying and cosigning like the others.
    const more = await n3.ledger.append([{ record: noteRecord(999) }], { command: put("after", "c") });
    await until("everyone has the new entry", () =>
      set.nodes.every((n) => n.ledger.size() > (more[0]?.index ?? 0)),
    );
    expect(testRows(n2.db)).toEqual(testRows(n3.db));
  }, 90_000);
});
