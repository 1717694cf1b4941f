/**
 * The upload path through the cluster hook: a real node (real TLS server, real demo accounts, the real
 * upload API) whose payload replication pushes to three real peer endpoints over mTLS (two online
 * nodes and the backup). With the peers up, the upload is answered 201 only after the other online
 * nodes hold every sealed chunk, byte-equal to what the node stored; with both online peers down it is
 * a 503 CLUSTER_NO_QUORUM and nothing is stored. The monitoring API carries the hook's cluster section.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "reflect-metadata";
import { createPayloadReplication } from "../../src/cluster/payload-replication.js";
import { createPeerClient, type PeerClient } from "../../src/cluster/peer/peer-client.js";
import { startPeerServer, type RunningPeerServer } from "../../src/cluster/peer/peer-server.js";
import { uploadExport } from "../../src/client/transfer-client.js";
import {
  createCertificateAuthority,
  createCrl,
  issueNodeCertificate,
  type IssuedCertificate,
} from "../../src/crypto/pki/index.js";
import { chunkAddress, openChunkStore, type ChunkStore } from "../../src/store/chunk-store.js";
import { storedPayloadBlobs } from "../../src/store/payload-chunk-rows.js";
import { EXAMPLE_DIR, expectStatus, firstLogin, startTestNode, type TestNode } from "../support/test-node.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const PEERS = ["node2", "node3", "backup"] as const;
let dir: string;
let node: TestNode;
let client: PeerClient;
const stores = new Map<string, ChunkStore>();
const servers = new Map<string, RunningPeerServer>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-upload-quorum-"));
  // The nodes' own CA (the peer transport's); the node under test keeps its demo CA for users.
  const now = new Date();
  const ca = await createCertificateAuthority({ commonName: "cluster CA", now, validityDays: 2 });
  const crlPem = await createCrl(ca, { revoked: [], now, nextUpdateDays: 1 });
  const cert = async (name: string): Promise<IssuedCertificate> =>
    issueNodeCertificate(ca, { nodeName: name, hostNames: ["127.0.0.1"], now, validityDays: 2 });
  for (const name of PEERS) {
    const c = await cert(name);
    const store = openChunkStore(join(dir, `${name}.db`));
    stores.set(name, store);
    servers.set(
      name,
      await startPeerServer({
        tls: { caCertPem: ca.certPem, certPem: c.certPem, keyPem: c.keyPem, crlPem },
        peers: ["node1", ...PEERS.filter((p) => p !== name)],
        chunks: store,
      }),
    );
  }
  const own = await cert("node1");
  client = createPeerClient({ tls: { caCertPem: ca.certPem, ...own }, rounds: 1, timeoutMs: 2000 });
  const endpoint = (name: string) => ({ name, url: servers.get(name)?.url ?? "" });
  const replication = createPayloadReplication({
    self: "node1",
    chunks: openChunkStore(join(dir, "node1.db")),
    client,
    online: [endpoint("node2"), endpoint("node3")],
    offline: [endpoint("backup")],
    retryPauseMs: 20,
  });
  node = await startTestNode({
    cluster: {
      replicatePayload: (payload, blobs) => replication.replicate(payload, blobs),
      monitoring: () =>
        Promise.resolve({
          available: true,
          head: 0,
          sequencer: null,
          publishedSize: 0,
          nodes: PEERS.map((name) => ({
            name,
            role: name === "backup" ? ("offline" as const) : ("online" as const),
            state: servers.has(name) ? ("serving" as const) : ("down" as const),
            applied: 0,
            lag: 0,
            lastCosignedSize: 0,
          })),
        }),
    },
  });
}, 120_000);

afterAll(async () => {
  await node.close();
  client.close();
  await Promise.all([...servers.values()].map((s) => s.close()));
  for (const s of stores.values()) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("upload acknowledged only once a majority of online nodes holds the payload", () => {
  it("answers 201 with the other online nodes holding every stored chunk; 503 CLUSTER_NO_QUORUM with both down, nothing stored", async () => {
    const sender = node.client("sender");
    await firstLogin(sender, node.account("sender").loginId, node.account("sender").password);
    const link = node.ctx.db.prepare("SELECT receiver_id FROM links").get() as { receiver_id: string };
    const body = readFileSync(join(EXAMPLE_DIR, "export.csv"));

    const up = await uploadExport(sender, link.receiver_id, body);
    expectStatus(up, 201);
    const id = (up.json as { transfer: { id: string } }).transfer.id;
    const stored = [...storedPayloadBlobs(node.ctx.db, id, "standard")].map(chunkAddress);
    expect(stored.length).toBeGreaterThan(0);
    for (const name of ["node2", "node3"]) {
      for (const a of stored) expect(stores.get(name)?.has(a)).toBe(true);
    }

    const office = node.client("office");
    await firstLogin(office, node.account("office").loginId, node.account("office").password);
    const mon = await office.get("/api/v1/admin/monitoring");
    expectStatus(mon, 200);
    expect(
      (mon.json as { cluster?: { nodes: { name: string }[] } }).cluster?.nodes.map((n) => n.name),
    ).toEqual([...PEERS]);

    for (const name of ["node2", "node3"]) {
      await servers.get(name)?.close();
      servers.delete(name);
    }
    const count = (): number =>
      (node.ctx.db.prepare("SELECT count(*) AS n FROM transfers").get() as { n: number }).n;
    const before = count();
    const refused = await uploadExport(sender, link.receiver_id, body);
    expect(refused.status).toBe(503);
    expect(JSON.stringify(refused.json)).toContain("CLUSTER_NO_QUORUM");
    expect(count()).toBe(before);
  });
});
