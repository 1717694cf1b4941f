/**
 * Crypto-shredding on the whole replicated service (test/support/service-cluster.ts: haproxy + 3
 * `kenshin serve` + the offline node on real etcd 3.4): once retention deletes a transfer, its
 * KEK-wrapped data key is in no file of any node — not in service.db (where every node also archives
 * every command batch for good, `cluster_batches`), ledger.db or chunks.db, nor in their WAL files —
 * because the key travels in the payload's manifest (deleted with the payload on every node), never in
 * the archived command. The raw files are searched for the key's bytes and for its base64 form; before
 * the deletion the same search finds it (so it can fail). A live transfer still downloads from every
 * online node.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createApiClient, type ApiClient } from "../../src/client/api-client.js";
import { downloadStandard, uploadExport } from "../../src/client/transfer-client.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { sha256Hex, useServiceCluster } from "../support/service-cluster.js";
import { EXAMPLE_DIR, expectStatus, firstLogin } from "../support/test-node.js";

// The serving nodes inherit the environment: a payload is due the moment its receipt is confirmed.
process.env["KENSHIN_RETENTION_AFTER_RECEIPT_DAYS"] = "0";
process.env["KENSHIN_RETENTION_CHECK_MS"] = "1000";
const cluster = useServiceCluster();
const ONLINE = ["node1", "node2", "node3"];
const ALL = [...ONLINE, "backup"];
const FILES = ["service.db", "ledger.db", "chunks.db"].flatMap((f) => [f, `${f}-wal`]);

/** The files of a node that hold `key` (its raw bytes or their base64). */
function filesHolding(dir: string, key: Buffer): string[] {
  const b64 = Buffer.from(key.toString("base64"));
  return FILES.filter((f) => {
    const path = join(dir, f);
    if (!existsSync(path)) return false;
    const bytes = readFileSync(path);
    return bytes.includes(key) || bytes.includes(b64);
  });
}

describe("crypto-shredding on a cluster", () => {
  it("a deleted transfer's wrapped data key is in no node's service.db, ledger.db or chunks.db", async () => {
    const c = cluster();
    const sender = c.client("sender");
    const receiver = c.client("receiver");
    await firstLogin(sender, c.account("sender").loginId, c.account("sender").password);
    const receiverLogin = await firstLogin(
      receiver,
      c.account("receiver").loginId,
      c.account("receiver").password,
    );
    const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
    const body = readFileSync(join(EXAMPLE_DIR, "export.csv"));
    const ups: { id: string; sha256: string }[] = [];
    for (let i = 0; i < 2; i++) {
      const up = await uploadExport(sender, receivers.receivers[0]?.id ?? "", body);
      expectStatus(up, 201);
      const t = (up.json as { transfer: { id: string; standard: { sha256: string } } }).transfer;
      expectStatus(await sender.post(`/api/v1/transfers/${t.id}/send`), 200);
      ups.push({ id: t.id, sha256: t.standard.sha256 });
    }
    const [gone = { id: "", sha256: "" }, live = { id: "", sha256: "" }] = ups;
    await c.waitSamePosition(ALL);

    // The wrapped keys as node1 stored them; every node stores the same bytes (from the manifest).
    const keyOf = (name: string, id: string): Buffer | undefined =>
      c.serviceDb(
        name,
        (db) =>
          db.prepare("SELECT wrapped_key FROM transfer_keys WHERE transfer_id = ?").get(id) as
            { wrapped_key: Buffer } | undefined,
      )?.wrapped_key;
    const goneKey = keyOf("node1", gone.id);
    const liveKey = keyOf("node1", live.id);
    if (goneKey === undefined || liveKey === undefined) throw new Error("node1 holds no key");
    for (const name of ALL) {
      const dir = c.files.nodeDir(name);
      const stored = await waitFor(() => Promise.resolve(keyOf(name, gone.id)), {
        what: `key stored on ${name}`,
        timeoutMs: 60_000,
        intervalMs: 250,
      });
      expect([name, stored.equals(goneKey)]).toEqual([name, true]);
      // Before the deletion the search finds it: in service.db (the key row) and chunks.db (the manifest).
      const holding = filesHolding(dir, goneKey);
      expect([name, holding.some((f) => f.startsWith("service.db"))]).toEqual([name, true]);
      expect([name, holding.some((f) => f.startsWith("chunks.db"))]).toEqual([name, true]);
      // No command carries it: the archived batches hold neither form of either key.
      const batches = c.serviceDb(name, (db) =>
        (db.prepare("SELECT batch FROM cluster_batches").all() as { batch: string }[]).map((r) =>
          Buffer.from(r.batch, "utf8"),
        ),
      );
      expect(batches.length).toBeGreaterThan(0);
      for (const k of [goneKey, liveKey]) {
        const b64 = Buffer.from(k.toString("base64"));
        expect([name, batches.some((b) => b.includes(k) || b.includes(b64))]).toEqual([name, false]);
      }
    }

    // Downloaded, then the receipt makes `gone` due; the online nodes' retention deletes it.
    const first = await downloadStandard(receiver, gone.id);
    if ("refused" in first) throw new Error(`download refused: ${first.refused.status}`);
    expectStatus(await receiver.post(`/api/v1/transfers/${gone.id}/receipt`), 200);
    for (const name of ALL) {
      await waitFor(
        () => {
          const row = c.serviceDb(
            name,
            (db) =>
              db.prepare("SELECT status FROM transfers WHERE id = ?").get(gone.id) as { status: string },
          );
          return Promise.resolve(row.status === "deleted" ? true : undefined);
        },
        { what: `${gone.id} deleted on ${name}`, timeoutMs: 90_000, intervalMs: 250 },
      );
    }
    await c.waitSamePosition(ALL);
    for (const name of ALL) {
      const dir = c.files.nodeDir(name);
      // The release step (every second) deletes the manifest and chunks and cuts the WAL: bounded wait.
      const left = await waitFor(
        () => {
          const h = filesHolding(dir, goneKey);
          return Promise.resolve(h.length === 0 ? h : undefined);
        },
        { what: `${gone.id}'s key gone from every file of ${name}`, timeoutMs: 60_000, intervalMs: 500 },
      ).catch(() => filesHolding(dir, goneKey));
      expect([name, left]).toEqual([name, []]);
      // The live transfer's key is still where it was.
      expect([name, filesHolding(dir, liveKey).length > 0]).toEqual([name, true]);
    }

    // The live transfer downloads from every online node; the deleted one from none.
    const a = c.account("receiver");
    const clients: ApiClient[] = [];
    try {
      for (const node of ONLINE) {
        const r = createApiClient({
          baseUrl: c.nodeUrl(node),
          caPem: c.caPem,
          certPem: readFileSync(a.certificate, "utf8"),
          keyPem: readFileSync(a.key, "utf8"),
          timeoutMs: 30_000,
        });
        clients.push(r);
        r.setDeviceKey(receiverLogin.deviceKey);
        expect((await r.login(a.loginId, receiverLogin.password)).status).toBe(201);
        const d = await downloadStandard(r, live.id);
        if ("refused" in d) throw new Error(`download refused on ${node}: ${d.refused.status}`);
        expect([node, sha256Hex(d.bytes)]).toEqual([node, live.sha256]);
        expect([node, "refused" in (await downloadStandard(r, gone.id))]).toEqual([node, true]);
      }
    } finally {
      for (const r of clients) r.close();
    }
  }, 420_000);
});
