/**
 * The AuditEvent search index in service.db: one row per ledger entry (its index, recorded time,
 * institution, transfer and confidentiality) and its search keys (`type:…`, `subtype:…`, `outcome:…`,
 * `agent:…`, `entity:…`, fhir/audit-event-keys.ts). Derived from the ledger alone and rebuilt by
 * catching up from the first unindexed entry, so it is a local cache, not state: a node that drops it
 * (or a replica that never had it) rebuilds the same rows. A search is one SQL query that returns a
 * page of indices, newest first — no scan of the ledger. Tables: service-migrations.ts (audit_index,
 * audit_index_keys).
 */
import type Database from "better-sqlite3";

export interface IndexRow {
  readonly idx: number;
  readonly recordedMs: number;
  readonly institution: string;
  readonly transfer: string | undefined;
  readonly confidentiality: string;
  readonly keys: readonly string[];
}

export interface IndexQuery {
  /** Each group: the row has at least one of these keys (groups are ANDed). */
  readonly keyGroups: readonly (readonly string[])[];
  /** recorded time bounds in ms: [from, to) */
  readonly fromMs?: number;
  readonly toMs?: number;
  /** Only rows with idx < before. */
  readonly before?: number;
  /** Confidentiality codes the reader is cleared for. */
  readonly confidentialities: readonly string[];
  /**
   * A party's institution: only rows of that institution or of transfers it may see (its own, or sent
   * to it). Undefined = every row (the office).
   */
  readonly party?: string;
  readonly limit: number;
}

/** The next ledger index to be indexed (everything below it is). */
export function indexedUpTo(db: Database.Database): number {
  const row = db.prepare<[], { n: number | null }>("SELECT MAX(idx) AS n FROM audit_index").get();
  return row?.n === null || row?.n === undefined ? 0 : row.n + 1;
}

/** Adds rows (consecutive, from `indexedUpTo`) in one transaction. */
export function addIndexRows(db: Database.Database, rows: readonly IndexRow[]): void {
  const insertRow = db.prepare(
    "INSERT INTO audit_index (idx, recorded_ms, institution, transfer, confidentiality) VALUES (?, ?, ?, ?, ?)",
  );
  const insertKey = db.prepare("INSERT OR IGNORE INTO audit_index_keys (key, idx) VALUES (?, ?)");
  db.transaction(() => {
    for (const r of rows) {
      insertRow.run(r.idx, r.recordedMs, r.institution, r.transfer ?? null, r.confidentiality);
      for (const key of r.keys) insertKey.run(key, r.idx);
    }
  })();
}

/**
 * One page of indices, newest first. The first key group (if any) drives the query through the keys'
 * primary key; the others, the time bounds, the party's visibility and the clearance filter it.
 */
export function searchIndex(db: Database.Database, q: IndexQuery): number[] {
  const where: string[] = [];
  const args: (string | number)[] = [];
  const [driver, ...rest] = q.keyGroups;
  const from =
    driver === undefined ? "audit_index e" : "audit_index_keys d JOIN audit_index e ON e.idx = d.idx";
  if (driver !== undefined) {
    where.push(`d.key IN (${driver.map(() => "?").join(",")})`);
    args.push(...driver);
  }
  for (const group of rest) {
    where.push(
      `EXISTS (SELECT 1 FROM audit_index_keys k WHERE k.idx = e.idx AND k.key IN (${group.map(() => "?").join(",")}))`,
    );
    args.push(...group);
  }
  if (q.before !== undefined) {
    where.push("e.idx < ?");
    args.push(q.before);
  }
  if (q.fromMs !== undefined) {
    where.push("e.recorded_ms >= ?");
    args.push(q.fromMs);
  }
  if (q.toMs !== undefined) {
    where.push("e.recorded_ms < ?");
    args.push(q.toMs);
  }
  where.push(`e.confidentiality IN (${q.confidentialities.map(() => "?").join(",")})`);
  args.push(...q.confidentialities);
  if (q.party !== undefined) {
    // The API's rule (transfer-records.ts canSee): the sender always, the receiver once it was sent.
    where.push(
      "(e.institution = ? OR e.transfer IN (SELECT id FROM transfers WHERE sender_id = ? OR (receiver_id = ? AND sent_at IS NOT NULL)))",
    );
    args.push(q.party, q.party, q.party);
  }
  const sql = `SELECT DISTINCT e.idx AS idx FROM ${from} WHERE ${where.join(" AND ")} ORDER BY e.idx DESC LIMIT ?`;
  args.push(q.limit);
  return db
    .prepare<(string | number)[], { idx: number }>(sql)
    .all(...args)
    .map((r) => r.idx);
}
