/**
 * Chunks no committed payload references leave chunks.db after a grace period, and the refs of
 * payloads stored before 513fa7a are backfilled so the sweep never takes theirs
 * (cluster/payload-chunk-sweep.ts, payload-chunk-release.ts `backfillPayloadRefs`).
 *
 * A real node (real TLS, the real upload API) whose payload replication pushes to real peer endpoints
 * over mutual TLS, with its own real chunks.db: upload A is acknowledged and kept; upload B is
 * acknowledged and its payload deleted before any refs existed (a deletion from before 513fa7a, whose
 * chunks stayed behind); upload C is a real interrupted upload — both online peers are down, so its
 * replication fails with CLUSTER_NO_QUORUM after the node stored the first sealed chunks locally, and
 * nothing is acknowledged. The node's service.db holds no refs at all (like a node from before
 * 513fa7a). The backfill notes A's refs — the manifest address it recomputes is the one the upload
 * stored — and the sweep then marks B's and C's chunks, keeps them within the grace, and deletes them
 * after it, while every chunk of A stays.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backfillPayloadRefs, preparePayloadRefs } from "../../src/cluster/payload-chunk-release.js";
import { sweepUnreferencedChunks } from "../../src/cluster/payload-chunk-sweep.js";
import { decodeManifest } from "../../src/cluster/payload-manifest.js";
import { prepareWantedPayloads } from "../../src/cluster/replicated-payloads.js";
import { uploadExport } from "../../src/client/transfer-client.js";
import { chunkAddress } from "../../src/store/chunk-store.js";
import { storedPayloadBlobs } from "../../src/store/payload-chunk-rows.js";
import { deletePayload } from "../../src/store/payload-store.js";
import { EXAMPLE_DIR, expectStatus, firstLogin } from "../support/test-node.js";
import { startReplicatingNode, type ReplicatingNode } from "./replicating-node.js";

let fixture: ReplicatingNode;

beforeAll(async () => {
  fixture = await startReplicatingNode({ prefix: "kenshin-chunk-sweep-" });
}, 120_000);

afterAll(async () => {
  await fixture.close();
});

describe("unreferenced chunks are released after a grace; old payloads' refs are backfilled first", () => {
  it("keeps an acknowledged payload's chunks, releases an interrupted upload's and an old deletion's", async () => {
    const { node, own, stores } = fixture;
    const sender = node.client("sender");
    await firstLogin(sender, node.account("sender").loginId, node.account("sender").password);
    const link = node.ctx.db.prepare("SELECT receiver_id FROM links").get() as { receiver_id: string };
    const body = readFileSync(join(EXAMPLE_DIR, "export.csv"));
    const held = (): Set<string> => new Set(own.addressesAfter("", 10_000));

    const upload = async (): Promise<string> => {
      const up = await uploadExport(sender, link.receiver_id, body);
      expectStatus(up, 201);
      return (up.json as { transfer: { id: string } }).transfer.id;
    };
    const kept = await upload();
    const keptChunks = [...storedPayloadBlobs(node.ctx.db, kept, "standard")].map(chunkAddress);
    const afterKept = held();
    const old = await upload();
    const oldAddresses = [...held()].filter((a) => !afterKept.has(a));
    expect(oldAddresses.length).toBeGreaterThan(1);
    // B's deletion from before 513fa7a: its rows gone, its chunks left in chunks.db without any refs.
    deletePayload(node.ctx.db, old);

    // C: both online peers down; the node stored the first sealed chunks, then refused.
    const beforeC = held();
    await fixture.stopOnlinePeers();
    const refused = await uploadExport(sender, link.receiver_id, body);
    expect(refused.status).toBe(503);
    expect(JSON.stringify(refused.json)).toContain("CLUSTER_NO_QUORUM");
    const interrupted = [...held()].filter((a) => !beforeC.has(a));
    expect(interrupted.length).toBeGreaterThan(0);

    // The node-local tables as a cluster node makes them at start; no refs at all yet.
    preparePayloadRefs(node.ctx.db);
    prepareWantedPayloads(node.ctx.db);
    const refs = (): { transfer_id: string; address: string; manifest: number }[] =>
      node.ctx.db
        .prepare("SELECT transfer_id, address, manifest FROM cluster_payload_refs ORDER BY address")
        .all() as { transfer_id: string; address: string; manifest: number }[];
    expect(refs()).toEqual([]);

    // The backfill notes A (the only stored payload) and only once.
    expect(backfillPayloadRefs(node.ctx.db, own)).toBe(1);
    expect(backfillPayloadRefs(node.ctx.db, own)).toBe(0);
    const noted = refs();
    expect(new Set(noted.map((r) => r.transfer_id))).toEqual(new Set([kept]));
    const manifest = noted.find((r) => r.manifest === 1)?.address ?? "";
    // The recomputed manifest is the very blob the upload stored and replicated.
    const blob = own.get(manifest);
    expect(blob).toBeDefined();
    expect(decodeManifest(blob ?? new Uint8Array()).chunks).toEqual(keptChunks);
    expect(noted.filter((r) => r.manifest === 0).map((r) => r.address)).toEqual([...keptChunks].sort());
    expect(stores.get("node2")?.has(manifest)).toBe(true);

    // Sweep: first round marks what nothing references, a round within the grace deletes nothing…
    const t0 = Date.now();
    const grace = 60_000;
    const first = sweepUnreferencedChunks(node.ctx.db, own, { nowMs: t0, graceMs: grace, window: 4 });
    expect(first.deleted).toBe(0);
    // (a small window: the cursor walks the store in several bounded rounds)
    let marked = first.marked;
    for (let i = 0; i < 50; i++) {
      const r = sweepUnreferencedChunks(node.ctx.db, own, { nowMs: t0 + 1, graceMs: grace, window: 4 });
      expect(r.deleted).toBe(0);
      marked += r.marked;
      if (r.looked < 4) break;
    }
    const unreferenced = [...oldAddresses, ...interrupted];
    expect(marked).toBe(unreferenced.length);
    const within = sweepUnreferencedChunks(node.ctx.db, own, { nowMs: t0 + grace - 1, graceMs: grace });
    expect(within.deleted).toBe(0);
    for (const a of unreferenced) expect(own.has(a)).toBe(true);

    // …and past the grace B's and C's chunks are gone, every chunk of A (and its manifest) stays.
    let deleted = 0;
    for (let i = 0; i < 3; i++) {
      deleted += sweepUnreferencedChunks(node.ctx.db, own, { nowMs: t0 + grace + 1, graceMs: grace }).deleted;
    }
    expect(deleted).toBe(unreferenced.length);
    for (const a of unreferenced) expect(own.has(a)).toBe(false);
    for (const a of [...keptChunks, manifest]) expect(own.has(a)).toBe(true);
    expect(held()).toEqual(new Set([...keptChunks, manifest]));
    // The kept transfer still downloads from this node's own copy (its rows were never touched).
    expect([...storedPayloadBlobs(node.ctx.db, kept, "standard")].map(chunkAddress)).toEqual(keptChunks);
  }, 120_000);
});
