/**
 * A cluster node's side of the replicated `kek.rotate {old, new}` command (state-commands/key-commands.ts;
 * the operator's command is `kenshin keys rotate-cluster`, service/cluster/cluster-kek-rotation.ts).
 *
 * `transfer_keys` is not among the rows the ledger commits to, so each node re-wraps its own rows with its
 * own nonces: the re-wrap need not be deterministic, only ordered. What every node records alike is the
 * cluster's current KEK id (`cluster_kek`, node-local, written by the applier from the command), which
 * decides deterministically what a later command or manifest may store:
 *
 * - an online node holds the new KEK as `keys/kek.key.new` (put there by the operator before the command
 *   is ordered); its applier re-wraps every row under it in the apply transaction, and once that
 *   committed {@link finishClusterKekRotation} renames it over `kek.key` and overwrites the old key
 *   (`commitPendingKek`; until then `loadKek` refuses, DATA_KEY_KEK_ROTATING, so nothing is served or
 *   wrapped under a key about to be destroyed). An online node that applies the command without the
 *   new key beside its own refuses it (DATA_KEY_KEK_NOT_GIVEN): the sequencer refuses the command for
 *   everyone, a follower stops applying until the key is given and the node restarted;
 * - the offline node never holds a KEK: its applier notes every row for a re-wrapped copy from a peer
 *   (key-refetch.ts), which it checks by the KEK id alone. So does an online node whose KEK already is
 *   the new one when it applies the command (its service.db restored from before the rotation).
 */
import { DataKeyError } from "../crypto/data-keys.js";
import { commitPendingKek, loadKekSync, loadRotatingKekSync, readPendingKek } from "../crypto/kek-file.js";
import { rewrapDataKeys } from "../store/kek-rotation.js";
import { truncateWal } from "../store/payload-store.js";
import type { ServiceDb } from "../store/service-db.js";
import { noteAllKeysWanted, prepareWantedKeys } from "./key-refetch.js";

const KEK_TABLE = `CREATE TABLE IF NOT EXISTS cluster_kek (
  slot INTEGER PRIMARY KEY CHECK (slot = 0),
  kek_id TEXT NOT NULL
) STRICT`;

/** What the command names: key ids only, never key material. */
export interface KekRotateArgs {
  readonly old: string;
  readonly new: string;
}

/** Makes the node-local tables of a rotation (idempotent). */
export function prepareClusterKek(db: ServiceDb): void {
  db.exec(KEK_TABLE);
  prepareWantedKeys(db);
}

/**
 * The KEK id the cluster's last `kek.rotate` named; undefined before the first rotation (and in a
 * service.db no rotation was prepared in, e.g. one a rebuild or a test applies commands to).
 */
export function clusterKekId(db: ServiceDb): string | undefined {
  const prepared = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cluster_kek'")
    .get();
  if (prepared === undefined) return undefined;
  return db.prepare<[], { kek_id: string }>("SELECT kek_id FROM cluster_kek WHERE slot = 0").get()?.kek_id;
}

/**
 * The node's applier dependency for `kek.rotate` (inside the apply transaction).
 * @throws DataKeyError DATA_KEY_KEK_NOT_GIVEN (online node without the new key beside its own);
 *   PayloadError PAYLOAD_KEK_MISMATCH (a row under neither key)
 */
export function clusterKekRotator(o: {
  readonly online: boolean;
  readonly kekPath: string;
}): (db: ServiceDb, args: KekRotateArgs) => void {
  return (db, args) => {
    const pending = o.online ? readPendingKek(o.kekPath) : undefined;
    if (o.online && pending === undefined && loadKekSync(o.kekPath).id === args.new) {
      // This node's KEK is the new one already (its service.db came back from before the rotation, e.g.
      // a restored backup): the rows under the destroyed KEK come re-wrapped from a peer, as offline.
      noteAllKeysWanted(db, args.new);
    } else if (o.online) {
      if (pending === undefined || pending === "unparsable" || pending.id !== args.new) {
        throw new DataKeyError(
          "DATA_KEY_KEK_NOT_GIVEN",
          "新しい鍵暗号化鍵がこのノードに置かれていません (keys/kek.key.new)",
          { expected: args.new },
        );
      }
      const current = loadRotatingKekSync(o.kekPath);
      rewrapDataKeys(db, current, pending);
      // Deferred: the rename must follow the commit of this transaction, never precede it.
      setImmediate(() => {
        finishClusterKekRotation(db, o.kekPath);
      });
    } else {
      noteAllKeysWanted(db, args.new);
    }
    db.prepare(
      "INSERT INTO cluster_kek (slot, kek_id) VALUES (0, ?) ON CONFLICT (slot) DO UPDATE SET kek_id = excluded.kek_id",
    ).run(args.new);
  };
}

/**
 * Finishes an online node's rotation once its re-wrap committed: `kek.key.new` renamed over `kek.key`
 * when the committed state names it (the cluster's KEK id is the pending key's and every row is under
 * it). Anything else — the transaction rolled back, or the key was put there for a command not yet
 * applied — leaves the file where it is. Called after the applier and when the node opens (a crash
 * between the commit and the rename).
 * @returns whether it committed the pending key
 */
export function finishClusterKekRotation(db: ServiceDb, kekPath: string): boolean {
  if (!db.open) return false;
  const pending = readPendingKek(kekPath);
  if (pending === undefined || pending === "unparsable") return false;
  if (clusterKekId(db) !== pending.id) return false;
  const other = db
    .prepare<[string], { n: number }>("SELECT count(*) AS n FROM transfer_keys WHERE kek_id <> ?")
    .get(pending.id);
  if ((other?.n ?? 1) > 0) return false;
  commitPendingKek(kekPath);
  // The UPDATEs left the old wrapped keys in WAL frames: sealed under a destroyed key, but no reason to
  // keep them.
  truncateWal(db);
  return true;
}
