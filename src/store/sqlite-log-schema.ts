/**
 * The tables of a ledger file (`sqlite-log.ts`) and the migrations from older versions.
 *
 * **Two-level look-up indexes.** An entry is found by its leaf hash and by its look-up keys
 * (`transfer:…`, `sha256:…`, `institution:…`). Both are random keys: inserting a batch of them straight
 * into one large B-tree dirties a page per row, and each dirty page is written to the WAL and fsynced
 * with the batch — that was most of the cost of a durable append (≈ 45 of 83 µs per entry at 200,000
 * entries, `bench/ledger`). So the newest entries are indexed by their own rows: each entry row carries
 * its leaf hash and its look-up keys packed as a JSON array (`entries.keys`), and the entries from
 * `meta.indexMergedBelow` on — at most {@link INDEX_MERGE_ENTRIES} plus one batch — are found through a
 * map each connection rebuilds from those rows (`sqlite-log-unmerged.ts`). Each time the log crosses a
 * multiple of {@link INDEX_MERGE_ENTRIES} entries they are merged, in key order, into the main tables
 * `leaf_index` and `entry_keys`, in the same transaction as that batch, and the mark moves to the end of
 * the batch. A look-up reads the main table and the unmerged rows. Everything is stored when its batch
 * commits, so a crash, another process on the same file, a repair or a backup see exactly what a
 * look-up sees. A merged entry keeps its packed keys, read by nothing (below the mark the main table is
 * the index): clearing them would rewrite every merged row, ≈ 2 µs per append measured, against ≈ 95
 * bytes per entry kept. (Version 3 wrote a batch's index rows into `…_recent` tables instead: four more
 * rows per entry.)
 */
import type Database from "better-sqlite3";
import type { OperationRecord } from "../ledger/entry/operation-record.js";
import { lookupKeys } from "../ledger/entry/lookup-keys.js";

/**
 * 2 added the `institution:` look-up keys; 3 split the leaf-hash and key indexes into main + recent
 * tables; 4 replaced the recent tables by the entry rows' own leaf hash and packed keys (older files are
 * migrated when opened).
 */
export const SCHEMA_VERSION = 4;

/** `meta` key: entries below this index are in the main index tables, the rest only in their own rows. */
export const MERGED_BELOW_KEY = "indexMergedBelow";

/** Entries between two merges of the recent index rows into the main tables. */
export const INDEX_MERGE_ENTRIES = 16_384;

const INDEX_TABLES = `
CREATE TABLE leaf_index (leaf_hash BLOB NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (leaf_hash, idx)) STRICT, WITHOUT ROWID;
`;

/** The version-3 recent tables, as migrated away from (and made again only to migrate a version-2 file). */
const RECENT_TABLES = `
CREATE TABLE leaf_index_recent (leaf_hash BLOB NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (leaf_hash, idx)) STRICT, WITHOUT ROWID;
CREATE TABLE entry_keys_recent (key TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (key, idx)) STRICT, WITHOUT ROWID;
`;

export const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE entries (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL, leaf_hash BLOB NOT NULL, keys TEXT) STRICT;
CREATE TABLE nodes (key INTEGER PRIMARY KEY, hash BLOB NOT NULL) STRICT;
CREATE TABLE entry_keys (key TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (key, idx)) STRICT, WITHOUT ROWID;
CREATE TABLE record_hashes (idx INTEGER NOT NULL, position INTEGER NOT NULL, hash BLOB NOT NULL,
  PRIMARY KEY (idx, position)) STRICT, WITHOUT ROWID;
CREATE INDEX record_hashes_by_hash ON record_hashes (hash);
CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, root BLOB NOT NULL, note TEXT NOT NULL) STRICT;
${INDEX_TABLES}
INSERT INTO meta (key, value) VALUES ('${MERGED_BELOW_KEY}', '0');`;

/**
 * The packed keys of the entries from the mark on, one row per key: what `unpackKeys`
 * (`sqlite-log-unmerged.ts`) reads — anything but a JSON array counts as no keys, and only its strings.
 */
export const UNMERGED_KEY_ROWS = `
SELECT e.idx AS idx, j.value AS key FROM entries AS e,
  json_each(CASE WHEN json_valid(e.keys) AND json_type(e.keys) = 'array' THEN e.keys ELSE '[]' END) AS j
WHERE e.idx >= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = '${MERGED_BELOW_KEY}') AND j.type = 'text'`;

/**
 * Moves the unmerged entries' leaf hashes and keys into the main tables, in key order (inside the
 * caller's transaction, after the batch that crosses the multiple is written); then
 * {@link MOVE_MERGE_MARK} moves the mark to the end of that batch.
 */
export const MERGE_UNMERGED_INDEX = `
INSERT OR IGNORE INTO leaf_index (leaf_hash, idx)
  SELECT leaf_hash, idx FROM entries
  WHERE idx >= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = '${MERGED_BELOW_KEY}') ORDER BY leaf_hash, idx;
INSERT OR IGNORE INTO entry_keys (key, idx) SELECT key, idx FROM (${UNMERGED_KEY_ROWS}) ORDER BY key, idx;
`;

/** Sets the merge mark to `@end`, an index as decimal text (see {@link MERGE_UNMERGED_INDEX}). */
export const MOVE_MERGE_MARK = `UPDATE meta SET value = @end WHERE key = '${MERGED_BELOW_KEY}'`;

/**
 * Brings a file of an older version to {@link SCHEMA_VERSION}, one transaction per step; the entries'
 * bytes and leaf hashes are never touched.
 * @returns false when the version is not one this code knows
 */
export function migrate(db: Database.Database, version: unknown): boolean {
  if (version === SCHEMA_VERSION) return true;
  if (version === 1) {
    migrateFromVersion1(db);
    version = 2;
  }
  if (version === 2) {
    migrateFromVersion2(db);
    version = 3;
  }
  if (version !== 3) return false;
  migrateFromVersion3(db);
  return true;
}

/**
 * Version 3 → 4: the recent rows merged into the main tables, the recent tables dropped, and the mark
 * set past the last entry — the migrated entries have no packed keys, and need none below the mark.
 */
function migrateFromVersion3(db: Database.Database): void {
  db.transaction(() => {
    db.exec(`
ALTER TABLE entries ADD COLUMN keys TEXT;
INSERT OR IGNORE INTO leaf_index (leaf_hash, idx) SELECT leaf_hash, idx FROM leaf_index_recent ORDER BY leaf_hash, idx;
INSERT OR IGNORE INTO entry_keys (key, idx) SELECT key, idx FROM entry_keys_recent ORDER BY key, idx;
DROP TABLE leaf_index_recent;
DROP TABLE entry_keys_recent;
INSERT OR REPLACE INTO meta (key, value)
  SELECT '${MERGED_BELOW_KEY}', CAST(COALESCE(MAX(idx) + 1, 0) AS TEXT) FROM entries;
`);
    db.pragma("user_version = 4");
  }).immediate();
}

/** Version 2 → 3: the leaf-hash index moved out of `entries` into its own (main + recent) tables. */
function migrateFromVersion2(db: Database.Database): void {
  db.transaction(() => {
    db.exec(INDEX_TABLES + RECENT_TABLES);
    // Read in leaf-hash order (through the old index), so the new table is built by appending.
    db.exec(
      "INSERT INTO leaf_index (leaf_hash, idx) SELECT leaf_hash, idx FROM entries ORDER BY leaf_hash, idx",
    );
    db.exec("DROP INDEX IF EXISTS entries_by_leaf_hash");
    db.pragma("user_version = 3");
  }).immediate();
}

/**
 * Version 1 → 2: index every entry under its institution too. An entry that is not JSON is left for
 * fsck to report.
 */
function migrateFromVersion1(db: Database.Database): void {
  const insert = db.prepare("INSERT OR IGNORE INTO entry_keys (key, idx) VALUES (?, ?)");
  const decoder = new TextDecoder();
  db.transaction(() => {
    for (const row of db
      .prepare<[], { idx: number; entry: Buffer }>("SELECT idx, entry FROM entries ORDER BY idx")
      .iterate()) {
      let record: OperationRecord;
      try {
        record = JSON.parse(decoder.decode(row.entry)) as OperationRecord;
        for (const key of lookupKeys(record)) insert.run(key, row.idx);
      } catch {
        continue;
      }
    }
    db.pragma("user_version = 2");
  }).immediate();
}
