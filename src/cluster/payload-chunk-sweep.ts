/**
 * Chunks in this node's chunks.db that no committed payload references are released after a grace
 * period — the chunks of an upload that was never acknowledged: its replication failed (no quorum) or
 * its node died before `transfer.create` was committed, so no applier ever noted them in
 * `cluster_payload_refs` (payload-chunk-release.ts) and no deletion will ever release them.
 *
 * **The sweep** is mark-and-sweep over a bounded window of addresses per round (a cursor in
 * service.db walks chunks.db in address order and wraps around): an address that is referenced —
 * named in `cluster_payload_refs`, or the manifest of a payload this node still has to fetch
 * (`cluster_payload_wanted`) — loses its mark; an unreferenced one is marked with the time it was
 * first seen so (node-local `cluster_chunk_unreferenced`), and deleted once a later round finds it
 * still unreferenced and marked longer ago than the grace period. The grace covers what is legitimately
 * unreferenced for a while: chunks pushed for an upload still in flight (bounded by the request
 * timeout) and chunks the fetcher stored before it notes them; it must stay far above both (default
 * 6 hours: `retention.unacknowledgedChunkGraceMs`).
 *
 * **The backfill** (once, before the first sweep; payload-chunk-release.ts `backfillPayloadRefs`): payloads stored before commit 513fa7a have no rows
 * in `cluster_payload_refs`. For each transfer whose standard payload this node stores and which has no
 * refs, the addresses are recomputed from what is stored — each chunk's address is the SHA-256 of its
 * `payload_chunks` blob, and the manifest is the canonical JSON of exactly those addresses
 * (payload-manifest.ts), so its address is the one the upload's command named — and noted. Payloads
 * deleted before 513fa7a left their chunks behind without any refs; the sweep releases those.
 */
import type { ChunkStore } from "../store/chunk-store.js";
import type { ServiceDb } from "../store/service-db.js";

const TABLES = `CREATE TABLE IF NOT EXISTS cluster_chunk_unreferenced (
  address TEXT PRIMARY KEY,
  seen_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cluster_chunk_sweep (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  cursor TEXT NOT NULL,
  backfilled INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO cluster_chunk_sweep (id, cursor) VALUES (1, '') ON CONFLICT DO NOTHING`;

/** Default grace before an unreferenced chunk is released. */
export const DEFAULT_UNREFERENCED_GRACE_MS = 6 * 60 * 60_000;
/** Addresses looked at per sweep round. */
const SWEEP_WINDOW = 512;

/** Makes the node-local tables (idempotent). Needs payload-chunk-release's and the wanted table. */
export function prepareChunkSweep(db: ServiceDb): void {
  db.exec(TABLES);
}

/** True once the refs of the payloads from before 513fa7a were backfilled on this node. */
export function refsBackfilled(db: ServiceDb): boolean {
  prepareChunkSweep(db);
  return (
    db.prepare<[], { backfilled: number }>("SELECT backfilled FROM cluster_chunk_sweep WHERE id = 1").get()
      ?.backfilled === 1
  );
}

/** Records that the backfill is done. */
export function markRefsBackfilled(db: ServiceDb): void {
  db.prepare("UPDATE cluster_chunk_sweep SET backfilled = 1 WHERE id = 1").run();
}

export interface SweepRound {
  readonly looked: number;
  readonly marked: number;
  readonly deleted: number;
}

/**
 * One round over the next `window` addresses of `chunks` after the stored cursor.
 * Call payload-chunk-release.ts `backfillPayloadRefs` before the first round.
 */
export function sweepUnreferencedChunks(
  db: ServiceDb,
  chunks: ChunkStore,
  o: { readonly nowMs: number; readonly graceMs: number; readonly window?: number },
): SweepRound {
  prepareChunkSweep(db);
  const cursor =
    db.prepare<[], { cursor: string }>("SELECT cursor FROM cluster_chunk_sweep WHERE id = 1").get()?.cursor ??
    "";
  const addresses = chunks.addressesAfter(cursor, o.window ?? SWEEP_WINDOW);
  const referenced = db.prepare<[string, string], { one: number }>(
    `SELECT 1 AS one FROM cluster_payload_refs WHERE address = ?
     UNION ALL SELECT 1 FROM cluster_payload_wanted WHERE manifest = ? LIMIT 1`,
  );
  const markOf = db.prepare<[string], { seen_at: number }>(
    "SELECT seen_at FROM cluster_chunk_unreferenced WHERE address = ?",
  );
  const mark = db.prepare<[string, number]>(
    "INSERT INTO cluster_chunk_unreferenced (address, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
  );
  const unmark = db.prepare<[string]>("DELETE FROM cluster_chunk_unreferenced WHERE address = ?");
  let marked = 0;
  let deleted = 0;
  for (const address of addresses) {
    if (referenced.get(address, address) !== undefined) {
      unmark.run(address);
      continue;
    }
    const seen = markOf.get(address)?.seen_at;
    if (seen === undefined) {
      mark.run(address, o.nowMs);
      marked += 1;
    } else if (o.nowMs - seen >= o.graceMs) {
      // Looked at once more just before: a payload committed since the check above keeps its chunk.
      if (referenced.get(address, address) === undefined && chunks.delete(address)) deleted += 1;
      unmark.run(address);
    }
  }
  // Past the end: start again from the beginning next round; marks of chunks gone meanwhile are dropped.
  const next = addresses.length < (o.window ?? SWEEP_WINDOW) ? "" : (addresses.at(-1) ?? "");
  db.prepare("UPDATE cluster_chunk_sweep SET cursor = ? WHERE id = 1").run(next);
  if (next === "") {
    const stale = db
      .prepare<[], { address: string }>("SELECT address FROM cluster_chunk_unreferenced")
      .all()
      .filter((r) => !chunks.has(r.address));
    for (const r of stale) unmark.run(r.address);
  }
  return { looked: addresses.length, marked, deleted };
}
