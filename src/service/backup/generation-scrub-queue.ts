/**
 * The queue of deleted transfers this node's backup generations still hold (node-local, in service.db):
 * a transfer goes in when the payload release step has physically deleted its manifest and chunks from
 * the live chunk store (cluster/payload-chunk-release.ts, in the transaction that ends the release), so
 * no generation taken afterwards can hold it; the scrub round (generation-scrub.ts) takes it out of
 * every generation that exists then and only then drops it. Persisted, so a restart still scrubs.
 *
 * Who notes: on a cluster node, the release step once chunks.db no longer holds the payload; on the
 * embedded node, the deletion's applier itself (service/ledger-port.ts), since there the payload and its
 * key live only in service.db and go in that very transaction.
 *
 * Only a node that keeps generations has the table: the offline node makes it at start, and every
 * generation take makes it before its snapshot ({@link prepareScrubQueue}; `kenshin backup create` on
 * any node, the schedule), so a deletion committed after a snapshot is always noted. Elsewhere nothing
 * is noted. A generation's own copy of service.db is taken without it ({@link dropScrubQueue}): the
 * queue is about this node's files, and a node rebuilt from the copy would otherwise note deletions for
 * a scrub that never runs there.
 */
import type Database from "better-sqlite3";

const TABLE = "backup_scrub_pending";

/**
 * Makes the queue (idempotent): this node scrubs its generations. When it makes the table, every
 * transfer already deleted or discarded here goes in: generations taken before the queue existed (by a
 * version without it, or restored into `backups/` by hand) may still hold their keys. A round finds
 * nothing to rewrite in a generation taken after a deletion, so the backfill costs one look per
 * generation and no rewrite.
 */
export function prepareScrubQueue(db: Database.Database): void {
  db.transaction(() => {
    if (hasQueue(db)) return;
    db.exec(`CREATE TABLE ${TABLE} (transfer_id TEXT PRIMARY KEY) STRICT`);
    if (!hasTable(db, "transfers")) return;
    db.exec(
      `INSERT INTO ${TABLE} (transfer_id) SELECT id FROM transfers WHERE status IN ('deleted', 'discarded')`,
    );
  }).immediate();
}

function hasTable(db: Database.Database, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

function hasQueue(db: Database.Database): boolean {
  return hasTable(db, TABLE);
}

/** Notes a released transfer for the scrub (inside the caller's transaction); nothing without a queue. */
export function noteGenerationScrub(db: Database.Database, transferId: string): void {
  if (!hasQueue(db)) return;
  db.prepare(`INSERT INTO ${TABLE} (transfer_id) VALUES (?) ON CONFLICT DO NOTHING`).run(transferId);
}

/** Up to `limit` queued transfers, in id order. */
export function pendingScrubs(db: Database.Database, limit: number): string[] {
  if (!hasQueue(db)) return [];
  return db
    .prepare<[number], { transfer_id: string }>(
      `SELECT transfer_id FROM ${TABLE} ORDER BY transfer_id LIMIT ?`,
    )
    .all(limit)
    .map((r) => r.transfer_id);
}

/** How many transfers wait for the scrub (monitoring, tests). */
export function pendingScrubCount(db: Database.Database): number {
  if (!hasQueue(db)) return 0;
  return db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM ${TABLE}`).get()?.n ?? 0;
}

/** Drops scrubbed transfers from the queue (one transaction). */
export function finishScrubs(db: Database.Database, ids: readonly string[]): void {
  const del = db.prepare<[string]>(`DELETE FROM ${TABLE} WHERE transfer_id = ?`);
  db.transaction(() => {
    for (const id of ids) del.run(id);
  }).immediate();
}

/** Removes the queue from a snapshot copy of service.db (see the file comment). */
export function dropScrubQueue(db: Database.Database): void {
  db.exec(`DROP TABLE IF EXISTS ${TABLE}`);
}
