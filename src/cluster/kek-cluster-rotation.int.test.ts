/**
 * A node's side of the cluster's `kek.rotate` on real SQLite and real KEK files (the whole service on
 * real etcd is test/cluster/keys-rotate-cluster.int.test.ts): the re-wrap in the apply transaction, the
 * rename only after a commit, the refusal without the new key, the offline node's notes, and what a
 * manifest or command under the old KEK may store afterwards.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateDataKey, type Kek } from "../crypto/data-keys.js";
import {
  commitPendingKek,
  loadKek,
  pendingKekPath,
  readPendingKek,
  writePendingKek,
} from "../crypto/kek-file.js";
import { openChunkStore, type ChunkStore } from "../store/chunk-store.js";
import { openServiceDb, type ServiceDb } from "../store/service-db.js";
import {
  clusterKekId,
  clusterKekRotator,
  finishClusterKekRotation,
  prepareClusterKek,
} from "./kek-cluster-rotation.js";
import { wantedKeyCount } from "./key-refetch.js";
import { preparePayloadRefs } from "./payload-chunk-release.js";
import {
  prepareWantedPayloads,
  replicatedPayloadCommitter,
  storeManifestKey,
} from "./replicated-payloads.js";

const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
const IDS = ["tr_a", "tr_b"];

let dir: string;
let kekPath: string;
let db: ServiceDb;
let chunks: ChunkStore | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-kek-cluster-"));
  kekPath = join(dir, "kek.key");
  writeFileSync(kekPath, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
  db = openServiceDb(join(dir, "service.db"), { create: true });
  prepareClusterKek(db);
  prepareWantedPayloads(db);
  preparePayloadRefs(db);
  const now = new Date(0).toISOString();
  db.prepare(
    "INSERT INTO institutions (id, kind, name, created_at) VALUES ('s', 'sender', 'S', ?), ('r', 'receiver', 'R', ?)",
  ).run(now, now);
  const insert = db.prepare(
    "INSERT INTO transfers (id, sender_id, receiver_id, status, original_sha256, original_bytes, created_at) VALUES (?, 's', 'r', 'converted', ?, 0, ?)",
  );
  for (const id of [...IDS, "tr_late"]) insert.run(id, "0".repeat(64), now);
});
afterEach(() => {
  chunks?.close();
  chunks = undefined;
  if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Stores a fresh data key for each transfer under `kek`; returns the plain keys. */
function storeKeys(kek: Kek): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const id of IDS) {
    const dek = Buffer.from(generateDataKey(random));
    db.prepare("INSERT INTO transfer_keys (transfer_id, kek_id, wrapped_key) VALUES (?, ?, ?)").run(
      id,
      kek.id,
      kek.wrap(dek, id),
    );
    keys.set(id, dek);
  }
  return keys;
}

function rows(): { transfer_id: string; kek_id: string; wrapped_key: Buffer }[] {
  return db
    .prepare("SELECT transfer_id, kek_id, wrapped_key FROM transfer_keys ORDER BY transfer_id")
    .all() as { transfer_id: string; kek_id: string; wrapped_key: Buffer }[];
}

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe("kek.rotate on an online node", () => {
  it("re-wraps every key in the apply transaction and renames the new KEK over the old one after the commit", async () => {
    const old = await loadKek(kekPath);
    const keys = storeKeys(old);
    const oldBytes = readFileSync(kekPath);
    const pending = writePendingKek(kekPath, random);
    const rotate = clusterKekRotator({ online: true, kekPath });
    db.transaction(() => {
      rotate(db, { old: old.id, new: pending.id });
    })();
    expect(rows().map((r) => r.kek_id)).toEqual([pending.id, pending.id]);
    // The rename is deferred past the commit.
    await sleep(20);
    expect(existsSync(pendingKekPath(kekPath))).toBe(false);
    expect(readFileSync(kekPath).equals(oldBytes)).toBe(false);
    const now = await loadKek(kekPath);
    expect(now.id).toBe(pending.id);
    expect(clusterKekId(db)).toBe(pending.id);
    for (const r of rows()) {
      expect(
        Buffer.from(now.unwrap(r.wrapped_key, r.transfer_id)).equals(
          keys.get(r.transfer_id) ?? Buffer.alloc(0),
        ),
      ).toBe(true);
      expect(() => old.unwrap(r.wrapped_key, r.transfer_id)).toThrow();
    }
  });

  it("when the apply transaction rolls back (the sequencer's check) → kek.key.new stays, kek.key unchanged", async () => {
    const old = await loadKek(kekPath);
    storeKeys(old);
    const oldBytes = readFileSync(kekPath);
    const pending = writePendingKek(kekPath, random);
    const rotate = clusterKekRotator({ online: true, kekPath });
    expect(
      codeOf(() => {
        db.transaction(() => {
          rotate(db, { old: old.id, new: pending.id });
          throw Object.assign(new Error("rolled back"), { code: "TEST_ROLLBACK" });
        })();
      }),
    ).toBe("TEST_ROLLBACK");
    await sleep(20);
    expect(existsSync(pendingKekPath(kekPath))).toBe(true);
    expect(readFileSync(kekPath).equals(oldBytes)).toBe(true);
    expect(rows().map((r) => r.kek_id)).toEqual([old.id, old.id]);
    expect(clusterKekId(db)).toBeUndefined();
    expect(finishClusterKekRotation(db, kekPath)).toBe(false);
  });

  it("without the new KEK beside its own → DATA_KEY_KEK_NOT_GIVEN and nothing changes", async () => {
    const old = await loadKek(kekPath);
    storeKeys(old);
    const rotate = clusterKekRotator({ online: true, kekPath });
    expect(
      codeOf(() => {
        db.transaction(() => {
          rotate(db, { old: old.id, new: "0123456789abcdef" });
        })();
      }),
    ).toBe("DATA_KEY_KEK_NOT_GIVEN");
    // A pending key of another id is not the one the command names either.
    writePendingKek(kekPath, random);
    expect(
      codeOf(() => {
        db.transaction(() => {
          rotate(db, { old: old.id, new: "0123456789abcdef" });
        })();
      }),
    ).toBe("DATA_KEY_KEK_NOT_GIVEN");
    expect(rows().map((r) => r.kek_id)).toEqual([old.id, old.id]);
    expect(clusterKekId(db)).toBeUndefined();
  });
});

describe("kek.rotate on the offline node and what comes after it", () => {
  it("an online node whose KEK is the new one already (service.db from before) notes its rows too", async () => {
    const old = await loadKek(kekPath);
    storeKeys(old);
    writePendingKek(kekPath, random);
    // The node's KEK file becomes the new key: what is left of the rotation before its service.db came back.
    const pending = readPendingKek(kekPath) as Kek;
    commitPendingKek(kekPath);
    clusterKekRotator({ online: true, kekPath })(db, { old: old.id, new: pending.id });
    expect(wantedKeyCount(db)).toBe(2);
    expect(clusterKekId(db)).toBe(pending.id);
  });

  it("the offline node notes every row for a re-wrapped copy from a peer", async () => {
    const old = await loadKek(kekPath);
    storeKeys(old);
    clusterKekRotator({ online: false, kekPath: join(dir, "none.key") })(db, {
      old: old.id,
      new: "0123456789abcdef",
    });
    expect(wantedKeyCount(db)).toBe(2);
    expect(clusterKekId(db)).toBe("0123456789abcdef");
  });

  it("a manifest key under the old KEK is not stored after the rotation: noted for a peer's row instead", async () => {
    const old = await loadKek(kekPath);
    clusterKekRotator({ online: false, kekPath: join(dir, "none.key") })(db, {
      old: old.id,
      new: "0123456789abcdef",
    });
    const wrapped = Buffer.from(old.wrap(generateDataKey(random), "tr_late")).toString("base64");
    storeManifestKey(db, "tr_late", {
      v: 1,
      transfer: "tr_late",
      kind: "standard",
      chunks: ["0".repeat(64)],
      bytes: 0,
      key: { kek: old.id, wrapped },
    });
    expect(rows()).toEqual([]);
    expect(wantedKeyCount(db)).toBe(1);
  });

  it("an upload's command wrapped under the old KEK, ordered after the rotation → CLUSTER_KEK_STALE", async () => {
    const old = await loadKek(kekPath);
    chunks = openChunkStore(join(dir, "chunks.db"));
    const commit = replicatedPayloadCommitter(chunks);
    const payload = { manifest: "0".repeat(64), chunks: 1, kekId: old.id };
    clusterKekRotator({ online: false, kekPath: join(dir, "none.key") })(db, {
      old: old.id,
      new: "0123456789abcdef",
    });
    expect(
      codeOf(() => {
        commit(db, "tr_late", payload);
      }),
    ).toBe("CLUSTER_KEK_STALE");
    // Under the cluster's current KEK the same command is taken (noted as a payload to fetch).
    expect(
      codeOf(() => {
        commit(db, "tr_late", { ...payload, kekId: "0123456789abcdef" });
      }),
    ).toBeUndefined();
  });
});
