/**
 * Physical deletion of a deleted or discarded transfer's replicated payload from this node's chunk
 * store (chunks.db), after retention or 破棄 removed its `payload_chunks` rows and data key from
 * service.db. Two node-local tables in service.db (like `cluster_payload_wanted`) make it possible:
 *
 * - `cluster_payload_refs`: which chunk addresses (the manifest's and every chunk's) each payload of
 *   this node uses, written in the apply transaction of the upload (`replicated-payloads.ts`) and by
 *   the payload fetcher once it has fetched a missed payload;
 * - `cluster_payload_released`: transfers whose payload a deletion command released, written by the
 *   deletion's applier through `ApplyDeps.releasePayload` in the same transaction (deterministic, only
 *   service.db).
 *
 * The {@link startPayloadRelease} step, after the apply, deletes from chunks.db the manifest and each
 * chunk no other payload of this node references (addresses are content addresses, so two payloads
 * could in principle share one), then drops the transfer's rows in both tables. Deleting first and
 * dropping the notes after makes a crash in between harmless: the next round deletes nothing twice.
 * On a node that keeps backup generations (the offline node) the same transaction queues the transfer
 * for the generation scrub (service/backup/generation-scrub-queue.ts).
 */
import { noteGenerationScrub } from "../service/backup/generation-scrub-queue.js";
import type { ChunkStore } from "../store/chunk-store.js";
import { truncateWal } from "../store/payload-store.js";
import type { ServiceDb } from "../store/service-db.js";
import { decodeManifest } from "./payload-manifest.js";
import { chunkAddress } from "../store/chunk-store.js";
import { storedPayloadBlobs } from "../store/payload-chunk-rows.js";
import { encodeManifest } from "./payload-manifest.js";
import {
  DEFAULT_UNREFERENCED_GRACE_MS,
  markRefsBackfilled,
  prepareChunkSweep,
  refsBackfilled,
  sweepUnreferencedChunks,
} from "./payload-chunk-sweep.js";

const TABLES = `CREATE TABLE IF NOT EXISTS cluster_payload_refs (
  transfer_id TEXT NOT NULL,
  address TEXT NOT NULL,
  manifest INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (transfer_id, address)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cluster_payload_refs_address ON cluster_payload_refs (address);
CREATE TABLE IF NOT EXISTS cluster_payload_released (transfer_id TEXT PRIMARY KEY) STRICT`;

/** Makes the node-local tables (idempotent). */
export function preparePayloadRefs(db: ServiceDb): void {
  db.exec(TABLES);
  prepareChunkSweep(db);
}

/** Notes that `transferId`'s payload uses these addresses (inside the caller's transaction). */
export function notePayloadRefs(
  db: ServiceDb,
  transferId: string,
  refs: { readonly manifest?: string; readonly chunks?: readonly string[] },
): void {
  const insert = db.prepare<[string, string, number]>(
    "INSERT INTO cluster_payload_refs (transfer_id, address, manifest) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
  );
  if (refs.manifest !== undefined) insert.run(transferId, refs.manifest, 1);
  for (const a of refs.chunks ?? []) insert.run(transferId, a, 0);
}

/** The cluster node's `releasePayload`: notes the transfer for the release step (same transaction). */
export function notePayloadReleased(db: ServiceDb, transferId: string): void {
  db.prepare("INSERT INTO cluster_payload_released (transfer_id) VALUES (?) ON CONFLICT DO NOTHING").run(
    transferId,
  );
}

/**
 * The backfill (payload-chunk-sweep.ts explains it): notes the refs of every stored standard payload
 * that has none (the payloads of before 513fa7a), once per node, before the first sweep; later
 * payloads are noted by their applier. Returns how many payloads it noted.
 */
export function backfillPayloadRefs(db: ServiceDb, store?: Pick<ChunkStore, "has">): number {
  if (refsBackfilled(db)) return 0;
  const missing = db
    .prepare<[], { transfer_id: string }>(
      `SELECT DISTINCT p.transfer_id FROM payload_chunks p
       WHERE p.kind = 'standard'
         AND NOT EXISTS (SELECT 1 FROM cluster_payload_refs r WHERE r.transfer_id = p.transfer_id)
       ORDER BY p.transfer_id`,
    )
    .all();
  let noted = 0;
  for (const { transfer_id: id } of missing) {
    const chunks: string[] = [];
    let bytes = 0;
    for (const blob of storedPayloadBlobs(db, id, "standard")) {
      chunks.push(chunkAddress(blob));
      bytes += blob.length;
    }
    // The manifest is recomputed: without a key (uploads before the key moved into the manifest) or
    // with the transfer's stored wrapped key (later ones, until a KEK rotation re-wraps it). The one
    // this node holds is noted; when it holds neither, both (a ref to an absent address is harmless).
    const key = db
      .prepare<[string], { kek_id: string; wrapped_key: Buffer }>(
        "SELECT kek_id, wrapped_key FROM transfer_keys WHERE transfer_id = ?",
      )
      .get(id);
    const base = { v: 1 as const, transfer: id, kind: "standard" as const, chunks, bytes };
    const candidates = [
      encodeManifest(base).address,
      ...(key === undefined
        ? []
        : [
            encodeManifest({ ...base, key: { kek: key.kek_id, wrapped: key.wrapped_key.toString("base64") } })
              .address,
          ]),
    ];
    const heldHere = store === undefined ? [] : candidates.filter((a) => store.has(a));
    const manifests = heldHere.length > 0 ? heldHere : candidates;
    db.transaction(() => {
      for (const manifest of manifests) notePayloadRefs(db, id, { manifest, chunks });
    }).immediate();
    noted += 1;
  }
  markRefsBackfilled(db);
  return noted;
}

/** Released payloads whose chunks this node has not deleted yet (monitoring, tests). */
export function releasedPayloadCount(db: ServiceDb): number {
  return db.prepare<[], { n: number }>("SELECT count(*) AS n FROM cluster_payload_released").get()?.n ?? 0;
}

/** The addresses of one released payload held or noted here: its refs, and what its manifest names. */
function addressesOf(db: ServiceDb, chunks: ChunkStore, transferId: string): Set<string> {
  const rows = db
    .prepare<[string], { address: string; manifest: number }>(
      "SELECT address, manifest FROM cluster_payload_refs WHERE transfer_id = ?",
    )
    .all(transferId);
  const out = new Set(rows.map((r) => r.address));
  for (const r of rows) {
    if (r.manifest !== 1) continue;
    const blob = chunks.get(r.address);
    if (blob === undefined) continue;
    try {
      const m = decodeManifest(blob);
      // Chunks fetched for a payload that was deleted before its rows were written are named here only.
      if (m.transfer === transferId) for (const a of m.chunks) out.add(a);
    } catch {
      // Not a manifest after all: its own address is still deleted below.
    }
  }
  return out;
}

/**
 * One round: for up to `limit` released transfers, physically deletes their unshared chunks and
 * manifest from `chunks`. Returns how many chunks were deleted.
 */
export function releasePayloadChunks(db: ServiceDb, chunks: ChunkStore, limit = 16): number {
  const released = db
    .prepare<[number], { transfer_id: string }>(
      "SELECT transfer_id FROM cluster_payload_released ORDER BY transfer_id LIMIT ?",
    )
    .all(limit);
  const sharedWith = db.prepare<[string, string], { one: number }>(
    "SELECT 1 AS one FROM cluster_payload_refs WHERE address = ? AND transfer_id <> ? LIMIT 1",
  );
  let deleted = 0;
  for (const { transfer_id: id } of released) {
    for (const address of addressesOf(db, chunks, id)) {
      if (sharedWith.get(address, id) !== undefined) continue;
      if (chunks.delete(address)) deleted += 1;
    }
    db.transaction(() => {
      db.prepare("DELETE FROM cluster_payload_refs WHERE transfer_id = ?").run(id);
      db.prepare("DELETE FROM cluster_payload_released WHERE transfer_id = ?").run(id);
      // Gone from this node's live files now: its backup generations follow (a node that keeps them).
      noteGenerationScrub(db, id);
    }).immediate();
  }
  // The applier deleted the payload rows and data key with secure_delete; cut service.db's WAL here
  // too, on every node (the node that proposed the deletion did so already).
  if (released.length > 0) truncateWal(db);
  return deleted;
}

export interface PayloadRelease {
  /** Runs one release round now. */
  round(): void;
  /** Runs one sweep round of unreferenced chunks now (payload-chunk-sweep.ts). */
  sweep(): void;
  stop(): void;
}

/**
 * Runs {@link releasePayloadChunks} every `intervalMs` on this node and, after the refs of payloads
 * from before 513fa7a are backfilled (once, at start), the sweep of chunks no committed payload
 * references (older than `graceMs`) at start and every `sweepIntervalMs`.
 */
export function startPayloadRelease(o: {
  readonly db: ServiceDb;
  readonly chunks: ChunkStore;
  readonly intervalMs?: number;
  /** Between sweep rounds (default a quarter of the grace, at most one minute). */
  readonly sweepIntervalMs?: number;
  /** How long an unreferenced chunk is kept (default 6 hours). */
  readonly graceMs?: number;
  readonly now?: () => number;
  readonly onError?: (error: unknown) => void;
}): PayloadRelease {
  const round = (): void => {
    try {
      releasePayloadChunks(o.db, o.chunks);
    } catch (error) {
      o.onError?.(error);
    }
  };
  const grace = o.graceMs ?? DEFAULT_UNREFERENCED_GRACE_MS;
  let backfilled = false;
  const sweep = (): void => {
    try {
      if (!backfilled) {
        backfillPayloadRefs(o.db, o.chunks);
        backfilled = true;
      }
      sweepUnreferencedChunks(o.db, o.chunks, {
        nowMs: (o.now ?? Date.now)(),
        graceMs: grace,
      });
    } catch (error) {
      o.onError?.(error);
    }
  };
  sweep();
  const timer = setInterval(round, o.intervalMs ?? 1000);
  timer.unref();
  const sweepTimer = setInterval(
    sweep,
    o.sweepIntervalMs ?? Math.max(500, Math.min(60_000, Math.floor(grace / 4))),
  );
  sweepTimer.unref();
  return {
    round,
    sweep,
    stop: () => {
      clearInterval(timer);
      clearInterval(sweepTimer);
    },
  };
}
