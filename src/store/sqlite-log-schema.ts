/**
 * The tables of a ledger file (`sqlite-log.ts`) and the migrations from older versions.
 *
 * **Two-level look-up indexes.** An entry is found by its leaf hash and by its look-up keys
 * (`transfer:…`, `sha256:…`, `institution:…`). Both are random keys: inserting a batch of them straight
 * into one large B-tree dirties a page per row, and each dirty page is written to the WAL and fsynced
 * with the batch — that was most of the cost of a durable append (≈ 45 of 83 µs per entry at 200,000
 * entries, `bench/ledger`). So each index has a small `…_recent` table that takes a batch's rows (it
 * stays a few hundred pages, so a batch dirties few of them) and a large main table into which the
 * recent rows are merged, in key order, each time the log crosses a multiple of
 * {@link INDEX_MERGE_ENTRIES} entries — in the same transaction as that batch. Every row is stored when
 * its batch commits (in one of the two tables); a look-up reads both. Nothing is kept only in memory,
 * so a crash, another process on the same file, a repair or a backup see exactly what a look-up sees.
 */
import type Database from "better-sqlite3";
import type { OperationRecord } from "../ledger/entry/operation-record.js";
import { lookupKeys } from "../ledger/entry/lookup-keys.js";

/**
 * 2 added the `institution:` look-up keys; 3 split the leaf-hash and key indexes into main + recent
 * tables (older files are migrated when opened).
 */
export const SCHEMA_VERSION = 3;

/** Entries between two merges of the recent index rows into the main tables. */
export const INDEX_MERGE_ENTRIES = 16_384;

const INDEX_TABLES = `
CREATE TABLE leaf_index (leaf_hash BLOB NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (leaf_hash, idx)) STRICT, WITHOUT ROWID;
CREATE TABLE leaf_index_recent (leaf_hash BLOB NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (leaf_hash, idx)) STRICT, WITHOUT ROWID;
CREATE TABLE entry_keys_recent (key TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (key, idx)) STRICT, WITHOUT ROWID;
`;

export const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE entries (idx INTEGER PRIMARY KEY, entry BLOB NOT NULL, leaf_hash BLOB NOT NULL) STRICT;
CREATE TABLE nodes (key INTEGER PRIMARY KEY, hash BLOB NOT NULL) STRICT;
CREATE TABLE entry_keys (key TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (key, idx)) STRICT, WITHOUT ROWID;
CREATE TABLE record_hashes (idx INTEGER NOT NULL, position INTEGER NOT NULL, hash BLOB NOT NULL,
  PRIMARY KEY (idx, position)) STRICT, WITHOUT ROWID;
CREATE INDEX record_hashes_by_hash ON record_hashes (hash);
CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, root BLOB NOT NULL, note TEXT NOT NULL) STRICT;
${INDEX_TABLES}`;

/** Moves the recent index rows into the main tables, in key order (inside the caller's transaction). */
export const MERGE_RECENT_INDEX = `
INSERT OR IGNORE INTO leaf_index (leaf_hash, idx) SELECT leaf_hash, idx FROM leaf_index_recent ORDER BY leaf_hash, idx;
DELETE FROM leaf_index_recent;
INSERT OR IGNORE INTO entry_keys (key, idx) SELECT key, idx FROM entry_keys_recent ORDER BY key, idx;
DELETE FROM entry_keys_recent;
`;

/**
 * Brings a file of an older version to {@link SCHEMA_VERSION}, one transaction per step; the entries
 * themselves are never touched.
 * @returns false when the version is not one this code knows
 */
export function migrate(db: Database.Database, version: unknown): boolean {
  if (version === SCHEMA_VERSION) return true;
  if (version === 1) {
    migrateFromVersion1(db);
    version = 2;
  }
  if (version !== 2) return false;
  db.transaction(() => {
    db.exec(INDEX_TABLES);
    // Read in leaf-hash order (through the old index), so the new table is built by appending.
    db.exec(
      "INSERT INTO leaf_index (leaf_hash, idx) SELECT leaf_hash, idx FROM entries ORDER BY leaf_hash, idx",
    );
    db.exec("DROP INDEX IF EXISTS entries_by_leaf_hash");
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
  return true;
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
