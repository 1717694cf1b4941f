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
import { uploadExport } from "../../src/client/transfer-client.js";
import { chunkAddress } from "../../src/store/chunk-store.js";
import { storedPayloadBlobs } from "../../src/store/payload-chunk-rows.js";
import { EXAMPLE_DIR, expectStatus, firstLogin } from "../support/test-node.js";
import { PEERS, startReplicatingNode, type ReplicatingNode } from "./replicating-node.js";

let fixture: ReplicatingNode;

beforeAll(async () => {
  fixture = await startReplicatingNode({
    prefix: "kenshin-upload-quorum-",
    monitoring: (peerUp) =>
      Promise.resolve({
        available: true,
        head: 0,
        sequencer: null,
        publishedSize: 0,
        nodes: PEERS.map((name) => ({
          name,
          role: name === "backup" ? ("offline" as const) : ("online" as const),
          state: peerUp(name) ? ("serving" as const) : ("down" as const),
          applied: 0,
          lag: 0,
          lastCosignedSize: 0,
        })),
      }),
  });
}, 120_000);

afterAll(async () => {
  await fixture.close();
});

describe("upload acknowledged only once a majority of online nodes holds the payload", () => {
  it("answers 201 with the other online nodes holding every stored chunk; 503 CLUSTER_NO_QUORUM with both down, nothing stored", async () => {
    const { node, stores } = fixture;
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

    await fixture.stopOnlinePeers();
    const count = (): number =>
      (node.ctx.db.prepare("SELECT count(*) AS n FROM transfers").get() as { n: number }).n;
    const before = count();
    const refused = await uploadExport(sender, link.receiver_id, body);
    expect(refused.status).toBe(503);
    expect(JSON.stringify(refused.json)).toContain("CLUSTER_NO_QUORUM");
    expect(count()).toBe(before);
  });
});
