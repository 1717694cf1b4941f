/**
 * Repair access to a ledger.db file (`sqlite-log.ts` layout), through a connection of its own: every
 * stored look-up key a look-up reads (`entry_keys` rows, and the packed keys of the entries not yet
 * merged into it, see `sqlite-log-schema.ts`) in entry order (the rolling check compares it with the
 * keys derived from the entries, so a deleted or an added key is caught), and the writes a repair makes — replacing proven
 * entries, their index rows and record hashes, rebuilding every interior node from the leaves, and
 * replacing checkpoints that no longer match — in one IMMEDIATE transaction, so a crash leaves the file
 * as it was before the repair or as it is after it, never half-repaired.
 *
 * Appending is not offered: entries only ever come in through the log's sequencer. The node must
 * reopen its `Ledger` after a repair (its in-memory head may name replaced hashes).
 */
import Database from "better-sqlite3";
import { LedgerError } from "../ledger/errors.js";
import type { CompletedNode } from "../ledger/verify/compact-range.js";
import { nodeKey } from "./sqlite-log.js";
import { UNMERGED_KEY_ROWS } from "./sqlite-log-schema.js";
import { assertSqliteRuntime } from "./sqlite-runtime.js";

/** The writes of one repair (all in one transaction). */
export interface LogRepairWriter {
  /** Stores proven bytes (and their leaf hash) at `index`, replacing what is there. */
  putEntry(index: number, entry: Uint8Array, leafHash: Uint8Array): void;
  /** Replaces every index row of entry `index` with exactly `keys`. */
  setIndexKeys(index: number, keys: readonly string[]): void;
  /** Removes index rows that name no stored entry (index ≥ size). */
  dropIndexKeysFrom(size: number): void;
  /** Replaces a conversion entry's record hashes. */
  setRecordHashes(index: number, hashes: readonly Uint8Array[]): void;
  /** Replaces every stored interior node with `nodes` (recomputed from the leaves). */
  replaceNodes(nodes: Iterable<CompletedNode>): void;
  /** Replaces (or removes, with `note` undefined) the stored checkpoint of `size`. */
  setCheckpoint(size: number, checkpoint: { root: Uint8Array; note: string } | undefined): void;
}

export interface LogRepairAccess {
  /** Every stored look-up key (main table and unmerged entries' packed keys), by entry index then key. */
  scanIndexKeys(): Iterable<{ readonly idx: number; readonly key: string }>;
  repair(fn: (w: LogRepairWriter) => void): void;
  close(): void;
}

/**
 * @throws LedgerError LEDGER_DB_UNUSABLE
 */
export function openLogRepairAccess(path: string): LogRepairAccess {
  assertSqliteRuntime();
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true });
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("busy_timeout = 10000");
  } catch (cause) {
    throw new LedgerError("LEDGER_DB_UNUSABLE", "台帳ファイルを開けません", {}, { cause });
  }
  const scanKeys = db.prepare<[], { idx: number; key: string }>(
    `SELECT idx, key FROM entry_keys UNION SELECT idx, key FROM (${UNMERGED_KEY_ROWS}) ORDER BY idx, key`,
  );
  // The packed keys stay with a replaced entry (setIndexKeys replaces them).
  const putEntry = db.prepare(
    `INSERT INTO entries (idx, entry, leaf_hash) VALUES (?, ?, ?)
     ON CONFLICT (idx) DO UPDATE SET entry = excluded.entry, leaf_hash = excluded.leaf_hash`,
  );
  const dropKeys = db.prepare("DELETE FROM entry_keys WHERE idx = ?");
  const dropKeysFrom = db.prepare("DELETE FROM entry_keys WHERE idx >= ?");
  // Replaced keys go to the main table, whether or not the entry is merged yet: a look-up reads both.
  const putKey = db.prepare("INSERT OR IGNORE INTO entry_keys (key, idx) VALUES (?, ?)");
  const packKeys = db.prepare("UPDATE entries SET keys = ? WHERE idx = ?");
  const dropLeaf = db.prepare("DELETE FROM leaf_index WHERE idx = ?");
  const putLeaf = db.prepare("INSERT OR IGNORE INTO leaf_index (leaf_hash, idx) VALUES (?, ?)");
  const dropRecords = db.prepare("DELETE FROM record_hashes WHERE idx = ?");
  const putRecord = db.prepare("INSERT INTO record_hashes (idx, position, hash) VALUES (?, ?, ?)");
  const dropNodes = db.prepare("DELETE FROM nodes");
  const putNode = db.prepare("INSERT INTO nodes (key, hash) VALUES (?, ?)");
  const dropCheckpoint = db.prepare("DELETE FROM checkpoints WHERE size = ?");
  const putCheckpoint = db.prepare("INSERT INTO checkpoints (size, root, note) VALUES (?, ?, ?)");
  const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

  const writer: LogRepairWriter = {
    putEntry(index, entry, leafHash) {
      putEntry.run(index, buf(entry), buf(leafHash));
      dropLeaf.run(index);
      putLeaf.run(buf(leafHash), index);
    },
    setIndexKeys(index, keys) {
      dropKeys.run(index);
      for (const key of keys) putKey.run(key, index);
      packKeys.run(keys.length === 0 ? null : JSON.stringify(keys), index);
    },
    dropIndexKeysFrom(size) {
      dropKeysFrom.run(size);
    },
    setRecordHashes(index, hashes) {
      dropRecords.run(index);
      hashes.forEach((h, position) => putRecord.run(index, position, buf(h)));
    },
    replaceNodes(nodes) {
      dropNodes.run();
      for (const n of nodes) putNode.run(nodeKey(n.level, n.index), buf(n.hash));
    },
    setCheckpoint(size, checkpoint) {
      dropCheckpoint.run(size);
      if (checkpoint !== undefined) putCheckpoint.run(size, buf(checkpoint.root), checkpoint.note);
    },
  };
  return {
    *scanIndexKeys() {
      for (const row of scanKeys.iterate()) yield row;
    },
    repair(fn) {
      db.transaction(() => {
        fn(writer);
      }).immediate();
    },
    close: () => {
      db.close();
    },
  };
}
