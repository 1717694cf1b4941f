/**
 * SQLite storage of one log replica (better-sqlite3), implementing `ledger/log-storage.ts`.
 *
 * Durability: WAL with `synchronous = FULL` (`sqlite-log-connection.ts`), so an acknowledged batch
 * survives kill -9 and power loss. A batch is one transaction. Interior nodes are stored under key
 * completedAt · 64 + level, which makes a scan in key order the order in which they complete (what fsck
 * recomputes) while point reads stay O(1).
 */
import type Database from "better-sqlite3";
import { existsSync } from "node:fs";
import { LedgerError } from "../ledger/errors.js";
import type {
  AppendBatch,
  KeyedLeafHash,
  LogStorage,
  StoredCheckpoint,
  StoredEntry,
  StoredNode,
} from "../ledger/log-storage.js";
import { openLogDatabase } from "./sqlite-log-connection.js";
import {
  INDEX_MERGE_ENTRIES,
  MERGE_UNMERGED_INDEX,
  migrate,
  SCHEMA,
  SCHEMA_VERSION,
} from "./sqlite-log-schema.js";
import { prepareLogStatements, type LogStatements } from "./sqlite-log-statements.js";
import { inIndexOrder, mergeAscending, UnmergedIndex, unmergedRows } from "./sqlite-log-unmerged.js";
import { MultiRowInserts } from "./sqlite-multi-insert.js";

const LEVELS = 64;

/** Options for creating a new log file. */
export interface CreateLogOptions {
  readonly path: string;
  readonly origin: string;
  readonly verifierKey: string;
}

/** Key of interior node (level ≥ 1, index) in the `nodes` table. */
export function nodeKey(level: number, index: number): number {
  return (index + 1) * 2 ** level * LEVELS + level;
}

/**
 * Creates a new, empty log file.
 * @throws LedgerError LEDGER_DB_EXISTS, LEDGER_DB_UNUSABLE
 */
export function createSqliteLog(options: CreateLogOptions): SqliteLog {
  if (existsSync(options.path)) {
    throw new LedgerError("LEDGER_DB_EXISTS", "台帳ファイルが既にあります", {});
  }
  const db = openLogDatabase(options.path, false);
  db.transaction(() => {
    db.exec(SCHEMA);
    const put = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
    put.run("origin", options.origin);
    put.run("verifierKey", options.verifierKey);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
  return new SqliteLog(db);
}

/**
 * Opens an existing log file.
 * @throws LedgerError LEDGER_DB_UNUSABLE when missing, not SQLite, or of another schema version
 */
export function openSqliteLog(path: string): SqliteLog {
  if (!existsSync(path)) throw new LedgerError("LEDGER_DB_UNUSABLE", "台帳ファイルがありません", {});
  const db = openLogDatabase(path, true);
  let version: unknown;
  try {
    version = db.pragma("user_version", { simple: true });
  } catch (cause) {
    db.close();
    throw new LedgerError("LEDGER_DB_UNUSABLE", "台帳ファイルを読めません", {}, { cause });
  }
  let known: boolean;
  try {
    known = migrate(db, version);
  } catch (cause) {
    db.close();
    throw new LedgerError("LEDGER_DB_UNUSABLE", "台帳ファイルを移行できません", { version }, { cause });
  }
  if (!known) {
    db.close();
    throw new LedgerError("LEDGER_DB_UNUSABLE", "台帳ファイルの版が違います", { version });
  }
  return new SqliteLog(db);
}

/** A BLOB as a Uint8Array: a view of the Buffer better-sqlite3 made for it (its own memory), not a copy. */
function bytes(value: unknown): Uint8Array {
  const buffer = value as Buffer;
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/*
 * The scans (fsck reads every row) hand out the Buffers better-sqlite3 made — Uint8Arrays already —
 * without even a view per row; point reads return plain Uint8Array views.
 */

/** Rows per page of the node scan: one statement call returns many rows, cheaper than stepping one by one. */
const SCAN_PAGE = 1024;

/** A log replica in one SQLite file. */
export class SqliteLog implements LogStorage {
  readonly origin: string;
  readonly verifierKey: string;
  readonly #db: Database.Database;
  readonly #q: LogStatements;
  readonly #inserts: MultiRowInserts;
  readonly #unmerged: UnmergedIndex;

  constructor(db: Database.Database) {
    this.#db = db;
    const meta = db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?");
    this.origin = meta.get("origin")?.value ?? "";
    this.verifierKey = meta.get("verifierKey")?.value ?? "";
    this.#q = prepareLogStatements(db);
    this.#inserts = new MultiRowInserts(db);
    this.#unmerged = new UnmergedIndex(db);
  }

  size(): number {
    return this.#q.size.get()?.n ?? 0;
  }

  entry(index: number): StoredEntry {
    const row = this.#q.entry.get(index);
    if (row === undefined)
      throw new LedgerError("LEDGER_NOT_FOUND", "その番号のエントリはありません", { index });
    return { index, entry: bytes(row.entry), leafHash: bytes(row.leaf_hash) };
  }

  node(level: number, index: number): Uint8Array {
    const row = level === 0 ? this.#q.leafHash.get(index) : undefined;
    if (level === 0) {
      if (row === undefined) throw missingNode(level, index);
      return bytes(row.leaf_hash);
    }
    const node = this.#q.node.get(nodeKey(level, index));
    if (node === undefined) throw missingNode(level, index);
    return bytes(node.hash);
  }

  writeTransaction<T>(fn: () => T): T {
    return this.#rollingBack(() => this.#db.transaction(fn).immediate());
  }

  /** Runs a write; when it throws (rolled back), the unmerged look-ups may name rows that are gone. */
  #rollingBack<T>(write: () => T): T {
    try {
      return write();
    } catch (error) {
      this.#unmerged.invalidate();
      throw error;
    }
  }

  appendBatch(batch: AppendBatch): void {
    this.#rollingBack(() => {
      this.#db
        .transaction(() => {
          this.#writeBatch(batch);
        })
        .immediate();
    });
  }

  #writeBatch(batch: AppendBatch): void {
    const q = this.#q;
    if (this.size() !== batch.firstIndex) {
      throw new LedgerError("LEDGER_DB_UNUSABLE", "台帳の末尾が想定と異なります (別の書き手がいます)", {
        expected: batch.firstIndex,
      });
    }
    // Rows go in through multi-row INSERTs (`sqlite-multi-insert.ts`). The entry row is its own
    // index until the next merge: leaf hash and packed look-up keys (`sqlite-log-schema.ts`).
    const entryRows: unknown[] = [];
    batch.entries.forEach((e, i) => {
      const idx = batch.firstIndex + i;
      entryRows.push(idx, e.entry, e.leafHash, e.keys.length === 0 ? null : JSON.stringify(e.keys));
      const hashes = e.recordHashes;
      if (hashes !== undefined) {
        // Views into the packed digests (SQLite copies each as it binds it): no array per hash.
        for (let position = 0; position * 32 < hashes.length; position++)
          q.insertRecord.run(idx, position, hashes.subarray(position * 32, position * 32 + 32));
      }
    });
    const nodeRows: unknown[] = [];
    for (const n of batch.nodes) nodeRows.push(nodeKey(n.level, n.index), n.hash);
    this.#inserts.insert("entries (idx, entry, leaf_hash, keys)", 4, entryRows);
    this.#inserts.insert("nodes (key, hash)", 2, nodeRows);
    const end = batch.firstIndex + batch.entries.length;
    if (Math.floor(end / INDEX_MERGE_ENTRIES) > Math.floor(batch.firstIndex / INDEX_MERGE_ENTRIES)) {
      this.#db.exec(MERGE_UNMERGED_INDEX);
      q.moveMergeMark.run({ end: String(end) });
      this.#unmerged.invalidate();
    }
  }

  // Each look-up: the main table's rows, then the unmerged entries' (`sqlite-log-unmerged.ts`); an
  // entry can be in both (a repair writes main rows for any entry), so indices are merged once each.

  findByLeafHash(leafHash: Uint8Array): number[] {
    const hash = Buffer.from(leafHash);
    const unmerged = this.#unmerged.sync().byLeaf.get(hash.toString("hex"));
    return mergeAscending(this.#q.byLeafHash.all(hash), unmerged);
  }

  findByKey(key: string): number[] {
    return mergeAscending(this.#q.byKey.all(key), this.#unmerged.sync().byKey.get(key));
  }

  keyedLeafHashes(key: string): KeyedLeafHash[] {
    const u = this.#unmerged.sync();
    const rows = this.#q.keyedLeafHashes.all(key).map(([index, leafHash]): KeyedLeafHash => ({
      index,
      leafHash: leafHash === null ? null : bytes(leafHash),
    }));
    return inIndexOrder([...rows, ...unmergedRows(u, u.byKey.get(key))]);
  }

  keyedLeafHashesOf(keys: readonly string[]): Map<string, KeyedLeafHash[]> {
    const u = this.#unmerged.sync();
    const out = new Map<string, KeyedLeafHash[]>();
    for (const [key, index, leafHash] of this.#q.keyedLeafHashesOf.all({ keys: JSON.stringify(keys) })) {
      let rows = out.get(key);
      if (rows === undefined) out.set(key, (rows = []));
      rows.push({ index, leafHash: leafHash === null ? null : bytes(leafHash) });
    }
    for (const key of keys) {
      const found = u.byKey.get(key);
      if (found === undefined) continue;
      let rows = out.get(key);
      if (rows === undefined) out.set(key, (rows = []));
      rows.push(...unmergedRows(u, found));
    }
    for (const [key, rows] of out) out.set(key, inIndexOrder(rows));
    return out;
  }

  entriesAt(indices: readonly number[]): Map<number, Uint8Array> {
    const out = new Map<number, Uint8Array>();
    for (const [index, entry] of this.#q.entriesAt.all(JSON.stringify(indices))) out.set(index, bytes(entry));
    return out;
  }

  findRecord(recordHash: Uint8Array): { index: number; position: number }[] {
    return this.#q.byRecord.all(Buffer.from(recordHash)).map((r) => ({ index: r.idx, position: r.position }));
  }

  recordHashes(index: number): Uint8Array[] {
    return this.#q.records.all(index).map((r) => bytes(r.hash));
  }

  latestCheckpoint(): StoredCheckpoint | null {
    const row = this.#q.latest.get();
    return row === undefined ? null : { size: row.size, root: bytes(row.root), note: row.note };
  }

  latestByKey(key: string, limit: number, before = Number.MAX_SAFE_INTEGER): number[] {
    // Newest first from the main table and from the unmerged entries, merged; an entry in both counts once.
    const unmerged = this.#unmerged.sync().byKey.get(key) ?? [];
    const recent: number[] = [];
    for (let i = unmerged.length - 1; i >= 0 && recent.length < limit; i--) {
      const index = unmerged[i] as number;
      if (index < before) recent.push(index);
    }
    const main = this.#q.latestByKey.all(key, before, limit);
    if (main.length === 0) return recent;
    if (recent.length === 0) return main;
    const merged: number[] = [];
    let r = 0;
    let m = 0;
    while (merged.length < limit && (r < recent.length || m < main.length)) {
      const a = recent[r] ?? -1;
      const b = main[m] ?? -1;
      if (a >= b) r++;
      if (b >= a) m++;
      merged.push(Math.max(a, b));
    }
    return merged;
  }

  *scanCheckpoints(): Iterable<StoredCheckpoint> {
    for (const r of this.#q.scanCheckpoints.iterate()) {
      yield { size: r.size, root: bytes(r.root), note: r.note };
    }
  }

  saveCheckpoint(
    decide: (latest: StoredCheckpoint | null) => StoredCheckpoint | null,
  ): StoredCheckpoint | null {
    return this.#db
      .transaction(() => {
        const chosen = decide(this.latestCheckpoint());
        if (chosen !== null && chosen.size !== this.latestCheckpoint()?.size) {
          this.#q.insertCheckpoint.run(chosen.size, chosen.root, chosen.note);
        }
        return chosen;
      })
      .exclusive();
  }

  readSnapshot<T>(fn: () => T): T {
    // A deferred transaction that only reads: every statement inside sees the same snapshot (WAL).
    return this.#db.transaction(fn).deferred();
  }

  /**
   * Begins a read transaction and pins its snapshot (for a check that reads across turns of the event
   * loop); the returned function ends it. Nothing else may use this connection meanwhile.
   */
  beginSnapshot(): () => void {
    this.#db.exec("BEGIN DEFERRED");
    try {
      this.size();
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
    return () => {
      if (this.#db.inTransaction) this.#db.exec("COMMIT");
    };
  }

  /** Up to `limit` entries with `from` ≤ index < `below`, in index order, as stored (for paged checks). */
  entriesPage(from: number, below: number, limit: number): StoredEntry[] {
    return this.#q.entriesPage
      .all(from, below, limit)
      .map(([idx, entry, leafHash]) => ({ index: idx, entry, leafHash }));
  }

  *scanEntries(): Iterable<StoredEntry> {
    if (!this.#db.inTransaction) {
      // Outside a transaction only one statement keeps one snapshot for the whole scan.
      for (const [idx, entry, leafHash] of this.#q.scanEntries.iterate())
        yield { index: idx, entry, leafHash };
      return;
    }
    // Inside one (fsck's read snapshot), in pages: one statement call per SCAN_PAGE rows costs less than
    // stepping row by row. From the lowest stored index on, so a row below 0 is met first.
    let page = this.#q.firstEntries.all(SCAN_PAGE);
    for (;;) {
      for (const [idx, entry, leafHash] of page) yield { index: idx, entry, leafHash };
      if (page.length < SCAN_PAGE) return;
      page = this.#q.entriesAfter.all((page[page.length - 1] as [number, Buffer, Buffer])[0], SCAN_PAGE);
    }
  }

  *scanNodes(): Iterable<StoredNode> {
    for (let after = -1; ;) {
      const page = this.#q.scanNodes.all(after, SCAN_PAGE);
      for (const [key, hash] of page) {
        const level = key % LEVELS;
        const completedAt = (key - level) / LEVELS;
        yield { level, index: completedAt / 2 ** level - 1, completedAt, hash };
      }
      if (page.length < SCAN_PAGE) return;
      after = (page[page.length - 1] as [number, Buffer])[0];
    }
  }

  close(): void {
    this.#db.close();
  }
}

function missingNode(level: number, index: number): LedgerError {
  return new LedgerError("LEDGER_NODE_MISMATCH", "保存された木のノードがありません", {
    level,
    index,
    reason: "missing",
  });
}
