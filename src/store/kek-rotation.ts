/**
 * Rotating the key-encryption key: every live data key re-wrapped under a new KEK in one transaction,
 * the old KEK destroyed, and a rotation interrupted by a crash completed or rolled back by the next one.
 */
import type { Kek } from "../crypto/data-keys.js";
import {
  commitPendingKek,
  discardPendingKek,
  loadKekSync,
  readPendingKek,
  writePendingKek,
} from "../crypto/kek-file.js";
import { PayloadError, truncateWal, unwrapRow } from "./payload-store.js";
import type { ServiceDb } from "./service-db.js";

/** What a rotation did. */
export interface RotateKekResult {
  readonly rewrapped: number;
  readonly oldKekId: string;
  readonly newKekId: string;
  /** What an interrupted earlier rotation needed first. */
  readonly recovered: "none" | "completed" | "rolled-back";
}

/**
 * Replaces the KEK: writes a new one to `kek.key.new` (0600, fsynced), re-wraps every live data key in
 * ONE transaction (committed durably: WAL with synchronous=FULL fsyncs on commit), renames the new file
 * over `kek.key` and overwrites the old key (see
 * `commitPendingKek` for why overwriting is not what the security rests on).
 *
 * Everything up to the commit runs synchronously inside one IMMEDIATE transaction, so no other writer
 * (or rotation) can interleave. If the process dies:
 * - before or while writing `kek.key.new`: the database still holds the old key ids; the next rotation
 *   discards the (possibly torn) new file;
 * - during the re-wrap transaction: SQLite rolls it back; same as above;
 * - after the commit, before the rename: every kek_id matches `kek.key.new`; the next rotation
 *   finishes the rename (and destroys the old key) before rotating again;
 * - after the rename, before the overwrite: `kek.key` is the new key and the database matches; the old
 *   key's bytes may remain in freed blocks, unreachable by name.
 * Meanwhile {@link loadKek} refuses to start (DATA_KEY_KEK_ROTATING) rather than guess.
 */
export function rotateKek(o: {
  db: ServiceDb;
  paths: { kek: string };
  random: (n: number) => Uint8Array;
}): Promise<RotateKekResult> {
  // Asynchronous in shape only (a throw becomes a rejection): every step must stay synchronous to
  // keep the write lock from the new key file through the commit.
  return new Promise((resolve) => {
    resolve(rotateKekLocked(o.db, o.paths.kek, o.random));
  });
}

function rotateKekLocked(db: ServiceDb, path: string, random: (n: number) => Uint8Array): RotateKekResult {
  const result = db
    .transaction((): RotateKekResult => {
      const recovered = recoverRotation(db, path);
      const oldKek = loadKekSync(path);
      const newKek = writePendingKek(path, random);
      try {
        const rewrapped = rewrapDataKeys(db, oldKek, newKek);
        return { rewrapped, oldKekId: oldKek.id, newKekId: newKek.id, recovered };
      } catch (error) {
        // Still holding the write lock: nobody else can have started a rotation with its own new file.
        discardPendingKek(path);
        throw error;
      }
    })
    .immediate();
  // A failed COMMIT (disk full) leaves kek.key.new beside a database under the old key: loadKek
  // refuses and the next rotation rolls it back, which is the safe side.
  commitPendingKek(path);
  // The UPDATEs left the old wrapped keys in WAL frames; they are sealed under a destroyed key, but
  // there is no reason to keep them.
  truncateWal(db);
  return result;
}

/**
 * Re-wraps every data key of `transfer_keys` not yet under `newKek` from `oldKek` to `newKek`. Runs
 * inside the caller's transaction (a rotation's: all or nothing); a row under a third KEK fails the
 * unwrap and with it the transaction. The one re-wrap of the node's `keys rotate` and of a cluster's
 * `kek.rotate` (cluster/kek-cluster-rotation.ts).
 * @returns how many rows were re-wrapped
 * @throws PayloadError PAYLOAD_KEK_MISMATCH when a row is under neither key
 */
export function rewrapDataKeys(
  db: ServiceDb,
  oldKek: Pick<Kek, "id" | "unwrap">,
  newKek: Pick<Kek, "id" | "wrap">,
): number {
  const rows = db
    .prepare<[string], { transfer_id: string; kek_id: string; wrapped_key: Buffer }>(
      "SELECT transfer_id, kek_id, wrapped_key FROM transfer_keys WHERE kek_id <> ?",
    )
    .all(newKek.id);
  const update = db.prepare("UPDATE transfer_keys SET kek_id = ?, wrapped_key = ? WHERE transfer_id = ?");
  for (const row of rows) {
    const dek = unwrapRow(oldKek, row.transfer_id, row);
    try {
      update.run(newKek.id, newKek.wrap(dek, row.transfer_id), row.transfer_id);
    } finally {
      dek.fill(0);
    }
  }
  return rows.length;
}

/**
 * Finishes or rolls back a rotation left by a crash (see {@link rotateKek}); runs under the write lock.
 */
function recoverRotation(db: ServiceDb, path: string): RotateKekResult["recovered"] {
  const pending = readPendingKek(path);
  if (pending === undefined) return "none";
  if (pending === "unparsable") {
    discardPendingKek(path);
    return "rolled-back";
  }
  const ids = db
    .prepare<[], { kek_id: string }>("SELECT DISTINCT kek_id FROM transfer_keys")
    .all()
    .map((r) => r.kek_id);
  if (ids.length > 0 && ids.every((id) => id === pending.id)) {
    commitPendingKek(path);
    return "completed";
  }
  // No key under the new KEK: the re-wrap never committed (or there was nothing to re-wrap); the
  // old file is still the one every key opens with.
  if (ids.every((id) => id !== pending.id)) {
    discardPendingKek(path);
    return "rolled-back";
  }
  throw new PayloadError("PAYLOAD_KEK_MISMATCH", "データ鍵が複数の鍵暗号化鍵に分かれています", {
    kekIds: ids,
  });
}
