/**
 * A deleted payload leaves every node's chunk store: three nodes (node1 and node2 online, the offline
 * backup) with their own real service.db and chunks.db, real peer endpoints over mutual TLS, a real
 * encrypted payload replicated by node1, and the service's real applier registry with the cluster
 * node's payload dependencies. After retention (transfer.expire) and 破棄 (transfer.discard) are applied
 * and the node's release step has run, the manifest and chunks of those transfers are gone from each
 * chunks.db, the kept transfer's are all there, and a chunk another payload still references stays.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "reflect-metadata";
import {
  notePayloadRefs,
  notePayloadReleased,
  preparePayloadRefs,
  releasedPayloadCount,
  startPayloadRelease,
} from "../../src/cluster/payload-chunk-release.js";
import { createPayloadReplication, type PayloadReplication } from "../../src/cluster/payload-replication.js";
import type { PeerClient, PeerEndpoint } from "../../src/cluster/peer/peer-client.js";
import {
  prepareWantedPayloads,
  replicatedPayloadCommitter,
  startPayloadFetcher,
  wantedPayloadCount as wanted,
} from "../../src/cluster/replicated-payloads.js";
import type { Kek } from "../../src/crypto/data-keys.js";
import { loadKek } from "../../src/crypto/kek-file.js";
import type { AppendResult, StateCommand } from "../../src/ledger/write-port.js";
import { institutionCreate, institutionLink } from "../../src/service/state-commands/account-commands.js";
import { mappingAdd } from "../../src/service/state-commands/device-commands.js";
import { commandApplier } from "../../src/service/state-commands/registry.js";
import {
  transferCreate,
  transferDiscard,
  transferExpire,
} from "../../src/service/state-commands/transfer-commands.js";
import { storedPayloadBlobs } from "../../src/store/payload-chunk-rows.js";
import { writePayload } from "../../src/store/payload-store.js";
import { openServiceDb, type ServiceDb } from "../../src/store/service-db.js";
import { startPeerMesh, type PeerMesh } from "./peer-mesh.js";

const NODES = ["node1", "node2", "backup"] as const;
type NodeName = (typeof NODES)[number];
const at = "2026-12-01T03:00:00.000Z";

let dir: string;
let kek: Kek;
let staging: ServiceDb;
let replication: PayloadReplication;
let mesh: PeerMesh<NodeName>;
let stores: PeerMesh<NodeName>["stores"];
const dbs = {} as Record<NodeName, ServiceDb>;
const random = (n: number) => new Uint8Array(randomBytes(n));

const clientOf = (name: NodeName): PeerClient =>
  mesh.client(name, { rounds: 1, pauseMs: 50, timeoutMs: 3000 });

const endpoint = (name: NodeName): PeerEndpoint => mesh.endpoint(name);

/** Applies one command on a node as its replica does: inside a transaction, with the cluster's deps. */
function applyOn(name: NodeName, command: StateCommand): void {
  const apply = commandApplier({
    commitPayload: replicatedPayloadCommitter(stores[name]),
    releasePayload: notePayloadReleased,
  });
  const results: AppendResult[] = [{ index: 0, leafHash: "00".repeat(32) }];
  dbs[name].transaction(() => {
    apply(command, results, dbs[name]);
  })();
}

const applyEverywhere = (command: StateCommand): void => {
  for (const name of NODES) applyOn(name, command);
};

/** node1's upload: the sealed payload replicated by address, then the create command on every node. */
async function upload(id: string, bytes: number, backupUp = true): Promise<string[]> {
  staging
    .prepare(
      "INSERT INTO transfers (id, sender_id, receiver_id, status, original_sha256, original_bytes, created_at) VALUES (?, 's', 'r', 'converted', ?, 0, ?)",
    )
    .run(id, "0".repeat(64), at);
  await writePayload(staging, kek, {
    transferId: id,
    kind: "standard",
    chunks: [randomBytes(bytes)],
    random,
    chunkBytes: 1024,
  });
  const receipt = await replication.replicate(
    { transfer: id, kind: "standard" },
    storedPayloadBlobs(staging, id, "standard"),
  );
  const offline = await receipt.offline;
  expect(offline.map((r) => r.code === "OK")).toEqual([backupUp]);
  const key = staging
    .prepare<[string], { kek_id: string; wrapped_key: Buffer }>(
      "SELECT kek_id, wrapped_key FROM transfer_keys WHERE transfer_id = ?",
    )
    .get(id);
  if (key === undefined) throw new Error("no key");
  applyEverywhere(
    transferCreate.of({
      id,
      senderId: "inst_s",
      receiverId: "inst_r",
      mappingId: "map_1",
      original: { sha256: "dd".repeat(32), bytes },
      standard: { sha256: "ee".repeat(32), bytes },
      records: 1,
      rowsRejected: 0,
      reportJson: "{}",
      at,
      deleteAfter: "2026-12-31T03:00:00.000Z",
      payload: {
        manifest: receipt.reference.manifest,
        chunks: receipt.reference.chunks,
        kekId: key.kek_id,
        wrappedKey: key.wrapped_key.toString("base64"),
      },
    }),
  );
  return [receipt.reference.manifest, ...receipt.manifest.chunks];
}

const rowsOf = (name: NodeName, id: string): number =>
  dbs[name]
    .prepare<[string], { n: number }>("SELECT count(*) AS n FROM payload_chunks WHERE transfer_id = ?")
    .get(id)?.n ?? 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-payload-deletion-"));
  mesh = await startPeerMesh({ dir, names: NODES, caName: "kenshin deletion test CA", validityDays: 2 });
  stores = mesh.stores;
  const kekFile = join(dir, "kek.key");
  writeFileSync(kekFile, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
  kek = await loadKek(kekFile);
  staging = openServiceDb(join(dir, "staging.db"), { create: true });
  staging
    .prepare(
      "INSERT INTO institutions (id, kind, name, created_at) VALUES ('s', 'sender', 'S', ?), ('r', 'receiver', 'R', ?)",
    )
    .run(at, at);
  for (const name of NODES) {
    dbs[name] = openServiceDb(join(dir, `${name}-service.db`), { create: true });
    prepareWantedPayloads(dbs[name]);
    preparePayloadRefs(dbs[name]);
  }
  for (const command of [
    institutionCreate.of({ id: "inst_s", kind: "sender", name: "健診センター", number: "1311111111", at }),
    institutionCreate.of({ id: "inst_r", kind: "receiver", name: "健保組合", number: "06111111", at }),
    institutionLink.of({ senderId: "inst_s", receiverId: "inst_r", at }),
    mappingAdd.of({
      id: "map_1",
      institutionId: "inst_s",
      name: "m",
      sha256: "cc".repeat(32),
      body: "x",
      activate: true,
      at,
    }),
  ]) {
    applyEverywhere(command);
  }
  replication = createPayloadReplication({
    self: "node1",
    chunks: stores.node1,
    client: clientOf("node1"),
    online: [endpoint("node2")],
    offline: [endpoint("backup")],
    retryPauseMs: 50,
  });
}, 60_000);

afterAll(async () => {
  await mesh.close();
  for (const name of NODES) dbs[name].close();
  staging.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("a deleted or discarded payload leaves the chunk store of every node", () => {
  it("retention and 破棄 delete the manifest and every unshared chunk from each node's chunks.db; the kept payload and a shared chunk stay", async () => {
    const expired = await upload("tr_expired_00000001", 6_000);
    const discarded = await upload("tr_discard_00000001", 4_000);
    const kept = await upload("tr_kept_000000000001", 5_000);
    for (const name of NODES) {
      for (const a of [...expired, ...discarded, ...kept]) expect(stores[name].has(a)).toBe(true);
      expect(rowsOf(name, "tr_expired_00000001")).toBe(expired.length - 1);
    }
    // On node2 another payload happens to use one of the expired payload's chunk addresses.
    const shared = expired[1] ?? "";
    dbs.node2.transaction(() => {
      notePayloadRefs(dbs.node2, "tr_kept_000000000001", { chunks: [shared] });
    })();

    applyEverywhere(transferExpire.of({ id: "tr_expired_00000001", from: "converted", at }));
    applyEverywhere(transferDiscard.of({ id: "tr_discard_00000001", at }));
    for (const name of NODES) {
      expect(rowsOf(name, "tr_expired_00000001")).toBe(0);
      expect(releasedPayloadCount(dbs[name])).toBe(2);
      // The applier itself never touches chunks.db: that is the release step's work, after the apply.
      expect(stores[name].has(expired[0] ?? "")).toBe(true);
      const release = startPayloadRelease({ db: dbs[name], chunks: stores[name], intervalMs: 60_000 });
      release.round();
      release.stop();
      expect(releasedPayloadCount(dbs[name])).toBe(0);
    }

    for (const name of NODES) {
      const keepShared = name === "node2";
      for (const a of [...expired, ...discarded]) {
        expect(stores[name].has(a)).toBe(keepShared && a === shared);
      }
      for (const a of kept) expect(stores[name].has(a)).toBe(true);
      expect(stores[name].count()).toBe(kept.length + (keepShared ? 1 : 0));
      expect(rowsOf(name, "tr_kept_000000000001")).toBe(kept.length - 1);
    }
  });

  it("the offline node that missed the push fetches the payload later, and its chunks go when the transfer is deleted", async () => {
    await mesh.stop("backup");
    const id = "tr_missed_0000000001";
    const addresses = await upload(id, 3_000, false);
    expect(wanted(dbs.backup)).toBe(1);
    for (const a of addresses) expect(stores.backup.has(a)).toBe(false);
    await mesh.start("backup");

    const fetcher = startPayloadFetcher({
      db: dbs.backup,
      chunks: stores.backup,
      replication: createPayloadReplication({
        self: "backup",
        chunks: stores.backup,
        client: clientOf("backup"),
        online: [endpoint("node1"), endpoint("node2")],
        quorum: 1,
        retryPauseMs: 50,
      }),
      intervalMs: 60_000,
    });
    await fetcher.round();
    await fetcher.stop();
    expect(wanted(dbs.backup)).toBe(0);
    expect(rowsOf("backup", id)).toBe(addresses.length - 1);
    for (const a of addresses) expect(stores.backup.has(a)).toBe(true);

    applyEverywhere(transferExpire.of({ id, from: "converted", at }));
    for (const name of NODES) {
      const release = startPayloadRelease({ db: dbs[name], chunks: stores[name], intervalMs: 60_000 });
      release.round();
      release.stop();
      for (const a of addresses) expect(stores[name].has(a)).toBe(false);
    }
  });
});
