/**
 * 破棄 on the whole replicated service (test/support/service-cluster.ts: 3 real `kenshin serve` nodes +
 * the offline node, real etcd 3.4, real haproxy): a clinic uploads two files and discards one through
 * the one frontend address. Once every node applied it, the discarded payload's chunks leave the
 * chunks.db of all four nodes (the offline one included), while the other upload's stay everywhere.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { uploadExport } from "../../src/client/transfer-client.js";
import { chunkAddress } from "../../src/store/chunk-store.js";
import { useServiceCluster } from "../support/service-cluster.js";
import { EXAMPLE_DIR, expectStatus, firstLogin } from "../support/test-node.js";

const cluster = useServiceCluster();
const ALL = ["node1", "node2", "node3", "backup"];

describe("破棄 on a cluster", () => {
  it("removes the discarded payload's chunks from every node's chunks.db and keeps the other upload's", async () => {
    const c = cluster();
    const body = readFileSync(join(EXAMPLE_DIR, "export.csv"));
    const sender = c.client("sender");
    await firstLogin(sender, c.account("sender").loginId, c.account("sender").password);
    const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
    const receiverId = receivers.receivers[0]?.id ?? "";
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const up = await uploadExport(sender, receiverId, body);
      expectStatus(up, 201);
      ids.push((up.json as { transfer: { id: string } }).transfer.id);
    }
    const [gone = "", kept = ""] = ids;
    await c.waitSamePosition(ALL);
    // Each payload's chunk addresses, from the rows node1 stored (the SHA-256 of nonce ‖ ciphertext).
    const addressesOf = (id: string): string[] =>
      c.serviceDb("node1", (db) =>
        (
          db
            .prepare("SELECT nonce, ciphertext FROM payload_chunks WHERE transfer_id = ? ORDER BY seq")
            .all(id) as { nonce: Buffer; ciphertext: Buffer }[]
        ).map((r) => chunkAddress(Buffer.concat([r.nonce, r.ciphertext]))),
      );
    const goneChunks = addressesOf(gone);
    const keptChunks = addressesOf(kept);
    expect(goneChunks.length).toBeGreaterThan(0);
    const held = (name: string): Set<string> => {
      const db = new Database(join(c.files.nodeDir(name), "chunks.db"), { readonly: true });
      try {
        return new Set(
          (db.prepare("SELECT address FROM chunks").all() as { address: string }[]).map((r) => r.address),
        );
      } finally {
        db.close();
      }
    };
    for (const name of ALL) {
      const h = held(name);
      expect([name, [...goneChunks, ...keptChunks].every((a) => h.has(a))]).toEqual([name, true]);
    }

    expectStatus(await sender.post(`/api/v1/transfers/${gone}/discard`), 200);
    await c.waitSamePosition(ALL);
    for (const name of ALL) {
      // The release step runs after the apply, every second: bounded wait.
      let h = held(name);
      for (let i = 0; i < 100 && goneChunks.some((a) => h.has(a)); i++) {
        await sleep(100);
        h = held(name);
      }
      expect([name, goneChunks.filter((a) => h.has(a))]).toEqual([name, []]);
      expect([name, keptChunks.every((a) => h.has(a))]).toEqual([name, true]);
    }
  }, 420_000);
});
