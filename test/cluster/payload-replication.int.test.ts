/**
 * Payload replication over real mutual TLS: four real peer endpoints on 127.0.0.1 (three online nodes
 * and the offline backup), each with its own SQLite chunk store, node certificates from a CA made at
 * test start, and a real payload written with a real KEK into a real service database. Nodes are
 * taken down by closing their endpoint and brought back on the same port.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "reflect-metadata";
import { decodeManifest } from "../../src/cluster/payload-manifest.js";
import { createPayloadReplication, type PayloadReplication } from "../../src/cluster/payload-replication.js";
import type { PeerEndpoint } from "../../src/cluster/peer/peer-client.js";
import { isCodedError } from "../../src/coded-error.js";
import type { Kek } from "../../src/crypto/data-keys.js";
import { loadKek } from "../../src/crypto/kek-file.js";
import { chunkAddress } from "../../src/store/chunk-store.js";
import { insertPayloadBlobs, storedPayloadBlobs } from "../../src/store/payload-chunk-rows.js";
import { PayloadSpool } from "../../src/store/payload-spool.js";
import { readPayload, writePayload } from "../../src/store/payload-store.js";
import { openServiceDb, type ServiceDb } from "../../src/store/service-db.js";
import { startPeerMesh, type PeerMesh } from "./peer-mesh.js";

const NODES = ["node1", "node2", "node3", "backup"] as const;
type NodeName = (typeof NODES)[number];
const ONLINE: readonly NodeName[] = ["node1", "node2", "node3"];

let dir: string;
let kek: Kek;
let mesh: PeerMesh<NodeName>;
let stores: PeerMesh<NodeName>["stores"];
const dbs = {} as Record<NodeName, ServiceDb>;
const random = (n: number) => new Uint8Array(randomBytes(n));

const endpoint = (name: NodeName): PeerEndpoint => mesh.endpoint(name);

/** The replication component as node `self` runs it. */
function replicationOf(self: NodeName): PayloadReplication {
  const client = mesh.client(self, { rounds: 2, pauseMs: 50, timeoutMs: 3000 });
  return createPayloadReplication({
    self,
    chunks: stores[self],
    client,
    online: ONLINE.filter((n) => n !== self).map(endpoint),
    offline: self === "backup" ? [] : [endpoint("backup")],
    retryPauseMs: 50,
  });
}

/** A service database with a sender, a receiver and transfer rows (payload rows need them). */
function openDb(name: NodeName): ServiceDb {
  const db = openServiceDb(join(dir, `${name}-service.db`), { create: true });
  const now = new Date(0).toISOString();
  db.prepare(
    "INSERT INTO institutions (id, kind, name, created_at) VALUES ('s', 'sender', 'S', ?), ('r', 'receiver', 'R', ?)",
  ).run(now, now);
  return db;
}

function addTransfer(db: ServiceDb, id: string): void {
  db.prepare(
    "INSERT INTO transfers (id, sender_id, receiver_id, status, original_sha256, original_bytes, created_at) VALUES (?, 's', 'r', 'converted', ?, 0, ?)",
  ).run(id, "0".repeat(64), new Date(0).toISOString());
}

/** Node1 stores a real encrypted payload (small chunks, so a payload has many). */
async function uploadOnNode1(id: string, bytes: number): Promise<Buffer> {
  const plain = randomBytes(bytes);
  addTransfer(dbs.node1, id);
  await writePayload(dbs.node1, kek, {
    transferId: id,
    kind: "standard",
    chunks: [plain],
    random,
    chunkBytes: 1024,
  });
  return plain;
}

async function readAll(db: ServiceDb, id: string): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of readPayload(db, kek, id, "standard")) parts.push(part);
  return Buffer.concat(parts);
}

function wrappedKeyOf(db: ServiceDb, id: string): { kekId: string; bytes: Uint8Array } {
  const row = db
    .prepare<[string], { kek_id: string; wrapped_key: Buffer }>(
      "SELECT kek_id, wrapped_key FROM transfer_keys WHERE transfer_id = ?",
    )
    .get(id);
  if (row === undefined) throw new Error("no key");
  return { kekId: row.kek_id, bytes: row.wrapped_key };
}

async function caught(p: Promise<unknown>): Promise<{ code: string; context: Record<string, unknown> }> {
  try {
    await p;
  } catch (error) {
    if (isCodedError(error)) return { code: error.code, context: { ...error.context } };
    throw error;
  }
  throw new Error("expected a coded error");
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-payload-repl-"));
  mesh = await startPeerMesh({ dir, names: NODES, caName: "kenshin payload test CA", validityDays: 30 });
  stores = mesh.stores;
  // The online nodes share one KEK; the backup node has none at all.
  const kekFile = join(dir, "kek.key");
  writeFileSync(kekFile, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
  kek = await loadKek(kekFile);
  for (const name of NODES) dbs[name] = openDb(name);
});

afterAll(async () => {
  await mesh.close();
  for (const name of NODES) dbs[name].close();
  rmSync(dir, { recursive: true, force: true });
});

describe("payload replication (quorum of online nodes, offline node pushed to, catch-up by address)", () => {
  it("with every node up, each one holds every chunk and the manifest; a follower's copy decrypts with the online KEK, the backup's cannot", async () => {
    const plain = await uploadOnNode1("tr_all_up_000001", 40_000);
    const receipt = await replicationOf("node1").replicate(
      { transfer: "tr_all_up_000001", kind: "standard" },
      storedPayloadBlobs(dbs.node1, "tr_all_up_000001", "standard"),
    );
    expect(receipt.holders).toEqual(["node1", "node2", "node3"]);
    expect(await receipt.offline).toEqual([{ peer: "backup", code: "OK" }]);
    expect(receipt.missed).toEqual([]);
    expect(receipt.reference.chunks).toBe(40);
    const addresses = [...receipt.manifest.chunks, receipt.reference.manifest];
    for (const name of NODES) for (const a of addresses) expect(stores[name].has(a)).toBe(true);
    // The manifest is content-addressed too and names the blobs in order.
    const manifestBlob = stores.node3.get(receipt.reference.manifest);
    expect(manifestBlob && decodeManifest(manifestBlob)).toEqual(receipt.manifest);
    const blobs = [...storedPayloadBlobs(dbs.node1, "tr_all_up_000001", "standard")];
    expect(blobs.map(chunkAddress)).toEqual(receipt.manifest.chunks);

    // node3 applies the upload from what it holds and the wrapped key the command carries.
    const node3 = replicationOf("node3");
    const ensured = await node3.ensurePayload(receipt.reference);
    expect(ensured.fetched).toBe(0);
    addTransfer(dbs.node3, "tr_all_up_000001");
    insertPayloadBlobs(dbs.node3, {
      transferId: "tr_all_up_000001",
      kind: "standard",
      blobs: ensured.manifest.chunks.map((a) => node3.localChunk(a) ?? new Uint8Array()),
      wrappedKey: wrappedKeyOf(dbs.node1, "tr_all_up_000001"),
    });
    expect((await readAll(dbs.node3, "tr_all_up_000001")).equals(plain)).toBe(true);

    // The backup keeps the same ciphertext rows, without any data key: it can never read them.
    addTransfer(dbs.backup, "tr_all_up_000001");
    insertPayloadBlobs(dbs.backup, {
      transferId: "tr_all_up_000001",
      kind: "standard",
      blobs: receipt.manifest.chunks.map((a) => stores.backup.get(a) ?? new Uint8Array()),
    });
    expect((await caught(readAll(dbs.backup, "tr_all_up_000001"))).code).toBe("PAYLOAD_CORRUPT");
    expect(existsSync(join(dir, "backup-kek.key"))).toBe(false);
  });

  it("with one online node down the upload is still acknowledged by two; the node fetches what it missed by address when it is back", async () => {
    await mesh.stop("node3");
    const plain = await uploadOnNode1("tr_one_down_0001", 10_000);
    const receipt = await replicationOf("node1").replicate(
      { transfer: "tr_one_down_0001", kind: "standard" },
      storedPayloadBlobs(dbs.node1, "tr_one_down_0001", "standard"),
    );
    expect(receipt.holders).toEqual(["node1", "node2"]);
    expect(receipt.missed).toEqual([{ peer: "node3", code: "CLUSTER_PEER_UNREACHABLE" }]);
    expect(stores.node3.has(receipt.reference.manifest)).toBe(false);

    await mesh.start("node3");
    // Catch-up from the hashes the log records: the reference (manifest address + count) only.
    const node3 = replicationOf("node3");
    const ensured = await node3.ensurePayload(receipt.reference);
    expect(ensured.fetched).toBe(receipt.reference.chunks + 1);
    addTransfer(dbs.node3, "tr_one_down_0001");
    insertPayloadBlobs(dbs.node3, {
      transferId: "tr_one_down_0001",
      kind: "standard",
      blobs: ensured.manifest.chunks.map((a) => node3.localChunk(a) ?? new Uint8Array()),
      wrappedKey: wrappedKeyOf(dbs.node1, "tr_one_down_0001"),
    });
    expect((await readAll(dbs.node3, "tr_one_down_0001")).equals(plain)).toBe(true);
    // A second catch-up fetches nothing.
    expect((await node3.ensurePayload(receipt.reference)).fetched).toBe(0);
  });

  it("with two online nodes down the upload is refused with CLUSTER_NO_QUORUM (the backup does not count)", async () => {
    await mesh.stop("node2");
    await mesh.stop("node3");
    try {
      await uploadOnNode1("tr_two_down_0001", 5_000);
      const e = await caught(
        replicationOf("node1").replicate(
          { transfer: "tr_two_down_0001", kind: "standard" },
          storedPayloadBlobs(dbs.node1, "tr_two_down_0001", "standard"),
        ),
      );
      expect(e.code).toBe("CLUSTER_NO_QUORUM");
      expect(e.context.required).toBe(2);
      expect(e.context.holders).toBe(1);
    } finally {
      await mesh.start("node2");
      await mesh.start("node3");
    }
  });

  it("a reference whose chunk count disagrees with the manifest it names is refused, and an unknown address is not found", async () => {
    await uploadOnNode1("tr_reference_001", 3_000);
    const receipt = await replicationOf("node1").replicate(
      { transfer: "tr_reference_001", kind: "standard" },
      storedPayloadBlobs(dbs.node1, "tr_reference_001", "standard"),
    );
    const node2 = replicationOf("node2");
    const wrongCount = await caught(
      node2.ensurePayload({ manifest: receipt.reference.manifest, chunks: receipt.reference.chunks + 1 }),
    );
    expect(wrongCount.code).toBe("CLUSTER_PEER_REQUEST_INVALID");
    const unknown = await caught(node2.ensurePayload({ manifest: chunkAddress(random(32)), chunks: 1 }));
    expect(unknown.code).toBe("CLUSTER_CHUNK_NOT_FOUND");
  });

  it("a streamed upload's spool gives, before commit, exactly the blobs its committed rows hold (what is replicated is what is stored)", async () => {
    const spool = new PayloadSpool({
      dir: join(dir, "spool"),
      transferId: "tr_spooled_00001",
      kind: "standard",
      random,
      chunkBytes: 1000,
    });
    try {
      spool.write(randomBytes(4500));
      const before = [...spool.sealedBlobs()].map(chunkAddress);
      expect(before).toHaveLength(5);
      const receipt = await replicationOf("node1").replicate(
        { transfer: "tr_spooled_00001", kind: "standard" },
        spool.sealedBlobs(),
      );
      expect(receipt.manifest.chunks).toEqual(before);
      addTransfer(dbs.node1, "tr_spooled_00001");
      dbs.node1.transaction(() => spool.commit(dbs.node1, kek)).immediate();
      expect([...storedPayloadBlobs(dbs.node1, "tr_spooled_00001", "standard")].map(chunkAddress)).toEqual(
        before,
      );
    } finally {
      spool.close();
    }
  });
});
