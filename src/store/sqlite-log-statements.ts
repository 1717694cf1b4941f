/**
 * The prepared statements of one ledger connection (`sqlite-log.ts`), by what they do.
 * Look-ups read the main table of each index here and the unmerged entries through
 * `sqlite-log-unmerged.ts` (`sqlite-log-schema.ts`).
 */
import type Database from "better-sqlite3";
import { MOVE_MERGE_MARK } from "./sqlite-log-schema.js";

/** Prepares every statement {@link SqliteLog} runs (`sqlite-log.ts`). */
export function prepareLogStatements(db: Database.Database): LogStatements {
  return {
    size: db.prepare<[], { n: number | null }>("SELECT MAX(idx) + 1 AS n FROM entries"),
    entry: db.prepare<[number], { entry: Buffer; leaf_hash: Buffer }>(
      "SELECT entry, leaf_hash FROM entries WHERE idx = ?",
    ),
    leafHash: db.prepare<[number], { leaf_hash: Buffer }>("SELECT leaf_hash FROM entries WHERE idx = ?"),
    node: db.prepare<[number], { hash: Buffer }>("SELECT hash FROM nodes WHERE key = ?"),
    insertRecord: db.prepare("INSERT INTO record_hashes (idx, position, hash) VALUES (?, ?, ?)"),
    // The main tables (`sqlite-log-schema.ts`); the unmerged entries are looked up in memory.
    byLeafHash: db
      .prepare<[Buffer], number>("SELECT idx FROM leaf_index WHERE leaf_hash = ? ORDER BY idx")
      .pluck(),
    byKey: db.prepare<[string], number>("SELECT idx FROM entry_keys WHERE key = ? ORDER BY idx").pluck(),
    // An index row whose entry row is gone still comes back (null leaf hash): the caller must see it.
    keyedLeafHashes: db
      .prepare<[string], [number, Buffer | null]>(
        `SELECT k.idx, e.leaf_hash FROM entry_keys AS k LEFT JOIN entries AS e ON e.idx = k.idx
         WHERE k.key = ? ORDER BY k.idx`,
      )
      .raw(),
    // The same for many keys at once (a JSON array of keys: one statement for any number of them).
    // Unordered: the caller sorts each key's rows with the unmerged ones and drops a row found twice.
    keyedLeafHashesOf: db
      .prepare<[{ keys: string }], [string, number, Buffer | null]>(
        `SELECT k.key, k.idx, e.leaf_hash FROM entry_keys AS k LEFT JOIN entries AS e ON e.idx = k.idx
         WHERE k.key IN (SELECT value FROM json_each(@keys))`,
      )
      .raw(),
    entriesAt: db
      .prepare<[string], [number, Buffer]>(
        "SELECT idx, entry FROM entries WHERE idx IN (SELECT value FROM json_each(?))",
      )
      .raw(),
    latestByKey: db
      .prepare<[string, number, number], number>(
        "SELECT idx FROM entry_keys WHERE key = ? AND idx < ? ORDER BY idx DESC LIMIT ?",
      )
      .pluck(),
    byRecord: db.prepare<[Buffer], { idx: number; position: number }>(
      "SELECT idx, position FROM record_hashes WHERE hash = ? ORDER BY idx, position",
    ),
    records: db.prepare<[number], { hash: Buffer }>(
      "SELECT hash FROM record_hashes WHERE idx = ? ORDER BY position",
    ),
    latest: db.prepare<[], { size: number; root: Buffer; note: string }>(
      "SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1",
    ),
    scanCheckpoints: db.prepare<[], { size: number; root: Buffer; note: string }>(
      "SELECT size, root, note FROM checkpoints ORDER BY size",
    ),
    insertCheckpoint: db.prepare("INSERT INTO checkpoints (size, root, note) VALUES (?, ?, ?)"),
    moveMergeMark: db.prepare<[{ end: string }]>(MOVE_MERGE_MARK),
    scanEntries: db
      .prepare<[], [number, Buffer, Buffer]>("SELECT idx, entry, leaf_hash FROM entries ORDER BY idx")
      .raw(),
    firstEntries: db
      .prepare<[number], [number, Buffer, Buffer]>(
        "SELECT idx, entry, leaf_hash FROM entries ORDER BY idx LIMIT ?",
      )
      .raw(),
    entriesAfter: db
      .prepare<[number, number], [number, Buffer, Buffer]>(
        "SELECT idx, entry, leaf_hash FROM entries WHERE idx > ? ORDER BY idx LIMIT ?",
      )
      .raw(),
    entriesPage: db
      .prepare<[number, number, number], [number, Buffer, Buffer]>(
        "SELECT idx, entry, leaf_hash FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?",
      )
      .raw(),
    scanNodes: db
      .prepare<[number, number], [number, Buffer]>(
        "SELECT key, hash FROM nodes WHERE key > ? ORDER BY key LIMIT ?",
      )
      .raw(),
  };
}

/** The statements of one connection. */
export interface LogStatements {
  readonly size: Database.Statement<[], { n: number | null }>;
  readonly entry: Database.Statement<[number], { entry: Buffer; leaf_hash: Buffer }>;
  readonly leafHash: Database.Statement<[number], { leaf_hash: Buffer }>;
  readonly node: Database.Statement<[number], { hash: Buffer }>;
  readonly insertRecord: Database.Statement;
  readonly byLeafHash: Database.Statement<[Buffer], number>;
  readonly byKey: Database.Statement<[string], number>;
  readonly keyedLeafHashes: Database.Statement<[string], [number, Buffer | null]>;
  readonly keyedLeafHashesOf: Database.Statement<[{ keys: string }], [string, number, Buffer | null]>;
  readonly entriesAt: Database.Statement<[string], [number, Buffer]>;
  readonly latestByKey: Database.Statement<[string, number, number], number>;
  readonly byRecord: Database.Statement<[Buffer], { idx: number; position: number }>;
  readonly records: Database.Statement<[number], { hash: Buffer }>;
  readonly latest: Database.Statement<[], { size: number; root: Buffer; note: string }>;
  readonly scanCheckpoints: Database.Statement<[], { size: number; root: Buffer; note: string }>;
  readonly insertCheckpoint: Database.Statement;
  readonly moveMergeMark: Database.Statement<[{ end: string }]>;
  readonly scanEntries: Database.Statement<[], [number, Buffer, Buffer]>;
  readonly firstEntries: Database.Statement<[number], [number, Buffer, Buffer]>;
  readonly entriesAfter: Database.Statement<[number, number], [number, Buffer, Buffer]>;
  readonly entriesPage: Database.Statement<[number, number, number], [number, Buffer, Buffer]>;
  readonly scanNodes: Database.Statement<[number, number], [number, Buffer]>;
}
