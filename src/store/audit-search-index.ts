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
  // Ledger times never go backwards (T1), so a time range is an index range: found through the
  // recorded-time index, then walked along the primary key newest first (no sort of the whole range).
  let before = q.before;
  let atLeast: number | undefined;
  if (q.toMs !== undefined) {
    const past = db
      .prepare<[number], { n: number | null }>("SELECT MIN(idx) AS n FROM audit_index WHERE recorded_ms >= ?")
      .get(q.toMs)?.n;
    if (past !== null && past !== undefined) before = before === undefined ? past : Math.min(before, past);
    where.push("+e.recorded_ms < ?");
    args.push(q.toMs);
  }
  if (q.fromMs !== undefined) {
    atLeast =
      db
        .prepare<[number], { n: number | null }>(
          "SELECT MIN(idx) AS n FROM audit_index WHERE recorded_ms >= ?",
        )
        .get(q.fromMs)?.n ?? Number.MAX_SAFE_INTEGER;
    where.push("+e.recorded_ms >= ?");
    args.push(q.fromMs);
  }
  const column = driver === undefined ? "e.idx" : "d.idx";
  if (before !== undefined) {
    where.push(`${column} < ?`);
    args.push(before);
  }
  if (atLeast !== undefined) {
    where.push(`${column} >= ?`);
    args.push(atLeast);
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
  // DISTINCT only when the driving group has several keys (one entry may carry more than one of them).
  const distinct = driver !== undefined && driver.length > 1 ? "DISTINCT " : "";
  const sql = `SELECT ${distinct}${column} AS idx FROM ${from} WHERE ${where.join(" AND ")} ORDER BY ${column} DESC LIMIT ?`;
  args.push(q.limit);
  return db
    .prepare<(string | number)[], { idx: number }>(sql)
    .all(...args)
    .map((r) => r.idx);
}
