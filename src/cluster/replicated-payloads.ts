/**
 * How a cluster node stores an upload's payload when it applies the upload's `transfer.create` command
 * (the command names it: manifest address and chunk count; `service/state-commands/command.ts`
 * ReplicatedPayload). Deterministic and the same on every node:
 *
 * - the KEK-wrapped data key goes into `transfer_keys` from the payload's manifest, which carries it
 *   (payload-manifest.ts: a key in the command would stay in every node's archived batches for good),
 *   as soon as this node holds the manifest; a command of before that change carries the key itself
 *   and it is stored from there. The offline node, which has no KEK, keeps it as the ciphertext it is.
 *   After a rotation of the cluster's KEK a key under an older KEK is not stored: the row comes
 *   re-wrapped from a peer (key-refetch.ts), and a new upload's command under an older KEK is refused;
 * - when this node's chunk store holds the manifest and every chunk it names (pushed to it before the
 *   upload was acknowledged, or fetched), their rows go into `payload_chunks` in the same transaction —
 *   byte for byte what the uploading node stored;
 * - otherwise (the node was down or a push to it failed) the payload is noted in
 *   `cluster_payload_wanted` in the same transaction, and the {@link startPayloadFetcher} fetches the
 *   missing chunks from the peers by SHA-256 (checked on receipt, `payload-replication.ts`
 *   `ensurePayload`) and writes the same rows later. The applier never waits on the network and never
 *   refuses for a chunk that is merely late, so no node stops and the sequencer's check never depends
 *   on which chunks happen to be local.
 */
import type { ServiceDb } from "../store/service-db.js";
import type { ChunkStore } from "../store/chunk-store.js";
import { insertPayloadBlobs } from "../store/payload-chunk-rows.js";
import type { ReplicatedPayload } from "../service/state-commands/command.js";
import { ClusterError } from "./errors.js";
import { clusterKekId } from "./kek-cluster-rotation.js";
import { noteKeyWanted } from "./key-refetch.js";
import { notePayloadRefs, notePayloadReleased } from "./payload-chunk-release.js";
import { decodeManifest, type PayloadManifest } from "./payload-manifest.js";
import type { PayloadReplication } from "./payload-replication.js";

const WANTED_TABLE = `CREATE TABLE IF NOT EXISTS cluster_payload_wanted (
  transfer_id TEXT PRIMARY KEY,
  manifest TEXT NOT NULL,
  chunks INTEGER NOT NULL
) STRICT`;

/** Makes the node-local table of payloads still to fetch (idempotent). */
export function prepareWantedPayloads(db: ServiceDb): void {
  db.exec(WANTED_TABLE);
}

/** Payloads this node still has to fetch (monitoring, tests). */
export function wantedPayloadCount(db: ServiceDb): number {
  return db.prepare<[], { n: number }>("SELECT count(*) AS n FROM cluster_payload_wanted").get()?.n ?? 0;
}

/** The payload's manifest when it is held here (checked against the command), else undefined. */
function heldManifest(
  chunks: ChunkStore,
  transferId: string,
  payload: ReplicatedPayload,
): PayloadManifest | undefined {
  const blob = chunks.get(payload.manifest);
  if (blob === undefined) return undefined;
  const manifest = decodeManifest(blob);
  if (
    manifest.transfer !== transferId ||
    manifest.kind !== "standard" ||
    manifest.chunks.length !== payload.chunks
  ) {
    throw new ClusterError("CLUSTER_PEER_REQUEST_INVALID", "ペイロードの目録が記録と一致しません", {
      address: payload.manifest,
    });
  }
  return manifest;
}

/** Stores the wrapped data key a manifest carries (a manifest of before the key moved there has none). */
export function storeManifestKey(db: ServiceDb, transferId: string, manifest: PayloadManifest): void {
  if (manifest.key === undefined || manifest.transfer !== transferId) return;
  storeWrappedKey(db, transferId, manifest.key.kek, Buffer.from(manifest.key.wrapped, "base64"));
}

/**
 * Stores a wrapped data key from a manifest or an old command — unless the cluster's KEK was rotated
 * away from the one it is under (kek-cluster-rotation.ts): that key opens nothing once the old KEK is
 * destroyed, so the transfer is noted for its re-wrapped row from a peer instead (key-refetch.ts).
 */
function storeWrappedKey(db: ServiceDb, transferId: string, kekId: string, wrapped: Buffer): void {
  const current = clusterKekId(db);
  if (current !== undefined && kekId !== current) {
    const held = db.prepare("SELECT 1 FROM transfer_keys WHERE transfer_id = ?").get(transferId);
    if (held === undefined) noteKeyWanted(db, transferId, current);
    return;
  }
  db.prepare(
    "INSERT INTO transfer_keys (transfer_id, kek_id, wrapped_key) VALUES (?, ?, ?) ON CONFLICT (transfer_id) DO NOTHING",
  ).run(transferId, kekId, wrapped);
}

function* blobsOf(chunks: ChunkStore, addresses: readonly string[]): Generator<Uint8Array> {
  for (const address of addresses) {
    const blob = chunks.get(address);
    if (blob === undefined) {
      throw new ClusterError("CLUSTER_CHUNK_NOT_FOUND", "チャンクがありません", { address });
    }
    yield blob;
  }
}

/**
 * The cluster node's `commitPayload` (the applier registry's one dependency): call inside the apply
 * transaction, after the transfer row exists.
 * @throws ClusterError CLUSTER_PAYLOAD_MISSING when the command names no payload
 */
export function replicatedPayloadCommitter(
  chunks: ChunkStore,
): (db: ServiceDb, transferId: string, payload?: ReplicatedPayload) => void {
  return (db, transferId, payload) => {
    if (payload === undefined) {
      throw new ClusterError("CLUSTER_PAYLOAD_MISSING", "複製されたペイロードの指定がありません", {
        transferId,
      });
    }
    const current = clusterKekId(db);
    if (payload.kekId !== undefined && payload.wrappedKey === undefined && current !== undefined) {
      // Wrapped under a KEK the log has rotated away from since (an upload that wrapped just before
      // the rotation was ordered): its key would open nothing once that KEK is destroyed. Refused
      // alike on every node (the ids come from the log); the client sends again.
      if (payload.kekId !== current) {
        throw new ClusterError("CLUSTER_KEK_STALE", "鍵暗号化鍵の更新中です。もう一度送ってください", {
          transferId,
        });
      }
    }
    if (payload.kekId !== undefined && payload.wrappedKey !== undefined) {
      // A command of before the key moved into the manifest.
      storeWrappedKey(db, transferId, payload.kekId, Buffer.from(payload.wrappedKey, "base64"));
    }
    const manifest = heldManifest(chunks, transferId, payload);
    if (manifest !== undefined) storeManifestKey(db, transferId, manifest);
    const held =
      manifest !== undefined && manifest.chunks.every((a) => chunks.has(a))
        ? [...manifest.chunks]
        : undefined;
    // What this node's chunk store holds for the payload, for its deletion later.
    notePayloadRefs(db, transferId, { manifest: payload.manifest, ...(held ? { chunks: held } : {}) });
    if (held !== undefined) {
      insertPayloadBlobs(db, { transferId, kind: "standard", blobs: blobsOf(chunks, held) });
      return;
    }
    db.prepare(
      "INSERT INTO cluster_payload_wanted (transfer_id, manifest, chunks) VALUES (?, ?, ?) ON CONFLICT (transfer_id) DO NOTHING",
    ).run(transferId, payload.manifest, payload.chunks);
  };
}

export interface PayloadFetcher {
  /** Runs one round now (resolves when it is done). */
  round(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Fetches the payloads noted as wanted, a few at a time, every `intervalMs`: each from whichever peer
 * holds it (checked on receipt), then its rows in one IMMEDIATE transaction — unless the transfer was
 * discarded or deleted meanwhile, or its rows are there already; then the note is just dropped.
 */
export function startPayloadFetcher(o: {
  readonly db: ServiceDb;
  readonly chunks: ChunkStore;
  readonly replication: PayloadReplication;
  readonly intervalMs?: number;
  readonly onError?: (error: unknown) => void;
}): PayloadFetcher {
  const { db } = o;
  const intervalMs = o.intervalMs ?? 500;
  const state = { stopped: false };
  // Read through a call: the flag changes while a round awaits the network.
  const isStopped = (): boolean => state.stopped;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const status = (id: string): string | undefined =>
    db.prepare<[string], { status: string }>("SELECT status FROM transfers WHERE id = ?").get(id)?.status;
  const stored = (id: string): boolean =>
    (db
      .prepare<[string], { n: number }>(
        "SELECT count(*) AS n FROM payload_chunks WHERE transfer_id = ? AND kind = 'standard'",
      )
      .get(id)?.n ?? 0) > 0;
  const released = (id: string): boolean => {
    const s = status(id);
    return s === undefined || s === "deleted" || s === "discarded";
  };
  const gone = (id: string): boolean => released(id) || stored(id);
  const drop = db.prepare<[string]>("DELETE FROM cluster_payload_wanted WHERE transfer_id = ?");

  const once = async (): Promise<void> => {
    const rows = db
      .prepare<[], { transfer_id: string; manifest: string; chunks: number }>(
        "SELECT transfer_id, manifest, chunks FROM cluster_payload_wanted ORDER BY transfer_id LIMIT 16",
      )
      .all();
    for (const r of rows) {
      if (isStopped()) return;
      try {
        if (!gone(r.transfer_id)) {
          const { manifest } = await o.replication.ensurePayload({ manifest: r.manifest, chunks: r.chunks });
          if (isStopped()) return;
          db.transaction(() => {
            notePayloadRefs(db, r.transfer_id, { manifest: r.manifest, chunks: manifest.chunks });
            // Deleted while it was being fetched: what was fetched is released again.
            if (released(r.transfer_id)) notePayloadReleased(db, r.transfer_id);
            if (!released(r.transfer_id)) storeManifestKey(db, r.transfer_id, manifest);
            if (!gone(r.transfer_id)) {
              insertPayloadBlobs(db, {
                transferId: r.transfer_id,
                kind: "standard",
                blobs: blobsOf(o.chunks, manifest.chunks),
              });
            }
            drop.run(r.transfer_id);
          }).immediate();
        } else {
          drop.run(r.transfer_id);
        }
      } catch (error) {
        if (!isStopped()) o.onError?.(error);
      }
    }
  };
  const round = (): Promise<void> => {
    running ??= once().finally(() => {
      running = undefined;
    });
    return running;
  };
  const schedule = (): void => {
    if (isStopped()) return;
    timer = setTimeout(() => {
      void round().finally(schedule);
    }, intervalMs);
    timer.unref();
  };
  schedule();
  return {
    round,
    async stop() {
      state.stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
