/**
 * The kinds of damage issue 11 lists, done to a node's files the way an attacker with file access would:
 * through a separate SQLite connection, under the running node. The consistent rewrite goes as far as an
 * attacker holding the log key can: the entry, every later entry re-chained, every leaf hash and
 * interior node recomputed, and every stored checkpoint re-signed — fsck on that node then passes, and
 * only the other nodes' cosignatures on the published checkpoint reveal it.
 */
import Database from "better-sqlite3";
import { encodeEntry, decodeEntry } from "../../src/ledger/entry/canonical-entry.js";
import type { OperationRecord } from "../../src/ledger/entry/operation-record.js";
import { nodeHasher } from "../../src/ledger/node-hasher.js";
import { formatCheckpoint } from "../../src/ledger/verify/checkpoint.js";
import { CompactRange } from "../../src/ledger/verify/compact-range.js";
import { toHex } from "../../src/ledger/verify/encoding.js";
import { appendSignatureLine } from "../../src/ledger/verify/signed-note.js";
import type { NoteSigner } from "../../src/crypto/note-signer.js";
import { nodeKey } from "../../src/store/sqlite-log.js";
import type { TestNode } from "./integrity-fixture.js";

/**
 * The files damaged: an in-process test node (integrity-fixture.ts), or a running node's data directory
 * (test/support/service-cluster.ts).
 */
export type DamageTarget = Pick<TestNode, "dir" | "ledgerPath">;

function withDb<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path);
  // A running node writes to the same file: wait for its lock rather than fail.
  db.pragma("busy_timeout = 10000");
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Changes one character of entry `index`'s bytes (leaf hash left as it was). */
export function editEntryBytes(node: DamageTarget, index: number): void {
  withDb(node.ledgerPath, (db) => {
    const row = db.prepare<[number], { entry: Buffer }>("SELECT entry FROM entries WHERE idx = ?").get(index);
    if (row === undefined) throw new Error("no such entry");
    const text = row.entry.toString("utf8").replace('"time":"2026', '"time":"2025');
    db.prepare("UPDATE entries SET entry = ? WHERE idx = ?").run(Buffer.from(text, "utf8"), index);
  });
}

export function deleteEntryRow(node: DamageTarget, index: number): void {
  withDb(node.ledgerPath, (db) => db.prepare("DELETE FROM entries WHERE idx = ?").run(index));
}

/**
 * Deletes the last entry row (the highest index) and returns its index. The stored size is MAX(idx) + 1,
 * so the copy then merely looks one entry shorter; only the size the node applied says otherwise.
 */
export function deleteLastEntryRow(node: DamageTarget): number {
  return withDb(node.ledgerPath, (db) =>
    db
      .transaction(() => {
        const last = db.prepare<[], { idx: number | null }>("SELECT MAX(idx) AS idx FROM entries").get()?.idx;
        if (last === null || last === undefined) throw new Error("no entries");
        db.prepare("DELETE FROM entries WHERE idx = ?").run(last);
        return last;
      })
      .immediate(),
  );
}

/** Swaps the rows (bytes and leaf hash) of two entries. */
export function swapEntryRows(node: DamageTarget, a: number, b: number): void {
  withDb(node.ledgerPath, (db) => {
    const get = db.prepare<[number], { entry: Buffer; leaf_hash: Buffer }>(
      "SELECT entry, leaf_hash FROM entries WHERE idx = ?",
    );
    const ra = get.get(a);
    const rb = get.get(b);
    if (ra === undefined || rb === undefined) throw new Error("no such entry");
    const put = db.prepare("UPDATE entries SET entry = ?, leaf_hash = ? WHERE idx = ?");
    db.transaction(() => {
      put.run(rb.entry, rb.leaf_hash, a);
      put.run(ra.entry, ra.leaf_hash, b);
    }).immediate();
  });
}

/**
 * Rewrites entry `index` (its time) and re-chains every later entry, recomputes every leaf hash and
 * interior node, and re-signs every stored checkpoint with the log key.
 */
export function consistentRewrite(node: DamageTarget, index: number, logSigner: NoteSigner): void {
  withDb(node.ledgerPath, (db) => {
    const readRows = db.prepare<[], { idx: number; entry: Buffer }>(
      "SELECT idx, entry FROM entries ORDER BY idx",
    );
    const range = new CompactRange(nodeHasher);
    const nodes: { level: number; index: number; hash: Uint8Array }[] = [];
    const leaves: Uint8Array[] = [];
    const roots = new Map<number, Uint8Array>();
    let prev: string | undefined;
    const putEntry = db.prepare("UPDATE entries SET entry = ?, leaf_hash = ? WHERE idx = ?");
    // Read and rewritten in one write transaction: a running node appends nothing in between.
    db.transaction(() => {
      for (const row of readRows.all()) {
        let bytes: Uint8Array = new Uint8Array(row.entry);
        if (row.idx >= index) {
          const record = decodeEntry(bytes);
          const changed = {
            ...record,
            ...(row.idx === index ? { time: "2025-01-01T00:00:00.000Z" } : {}),
            ...(prev !== undefined ? { prev } : {}),
          } as OperationRecord;
          bytes = encodeEntry(changed);
        }
        const leaf = nodeHasher.hashLeaf(bytes);
        if (row.idx >= index) putEntry.run(Buffer.from(bytes), Buffer.from(leaf), row.idx);
        prev = toHex(leaf);
        leaves.push(leaf);
        nodes.push(...range.append(leaf));
        roots.set(range.size, range.root());
      }
      db.prepare("DELETE FROM nodes").run();
      const putNode = db.prepare("INSERT INTO nodes (key, hash) VALUES (?, ?)");
      for (const n of nodes) putNode.run(nodeKey(n.level, n.index), Buffer.from(n.hash));
      const checkpoints = db.prepare<[], { size: number }>("SELECT size FROM checkpoints").all();
      const putCheckpoint = db.prepare("UPDATE checkpoints SET root = ?, note = ? WHERE size = ?");
      for (const { size } of checkpoints) {
        const root = size === 0 ? nodeHasher.emptyRoot() : (roots.get(size) as Uint8Array);
        const text = formatCheckpoint({ origin: logSigner.name, size, root });
        const note = appendSignatureLine(`${text}\n`, logSigner.name, logSigner.keyId, logSigner.sign(text));
        putCheckpoint.run(Buffer.from(root), note, size);
      }
    }).immediate();
  });
}

/** Flips bytes of a stored chunk (its address row stays). */
export function corruptChunk(node: DamageTarget, address: string): void {
  withDb(`${node.dir}/chunks.db`, (db) => {
    const row = db
      .prepare<[string], { bytes: Buffer }>("SELECT bytes FROM chunks WHERE address = ?")
      .get(address);
    if (row === undefined) throw new Error("no such chunk");
    const bytes = Buffer.from(row.bytes);
    bytes[0] = (bytes[0] ?? 0) ^ 0xff;
    db.prepare("UPDATE chunks SET bytes = ? WHERE address = ?").run(bytes, address);
  });
}

export function editTransferRow(node: DamageTarget, id: string, set: string): void {
  withDb(`${node.dir}/service.db`, (db) => db.prepare(`UPDATE transfers SET ${set} WHERE id = ?`).run(id));
}

/**
 * Deletes a transfer's `transfers` row as the `sqlite3` shell would: foreign keys off (that shell's
 * default; better-sqlite3 turns them on), so the delete goes through and the rows naming the transfer
 * (`transfer_keys`, `payload_chunks`) stay where they are. With them on it is refused: no table
 * cascades the delete.
 */
export function deleteTransferRow(node: DamageTarget, id: string): void {
  withDb(`${node.dir}/service.db`, (db) => {
    db.pragma("foreign_keys = OFF");
    if (db.prepare("DELETE FROM transfers WHERE id = ?").run(id).changes !== 1)
      throw new Error("no such row");
  });
}

/**
 * Deletes a transfer's look-up key wherever a look-up reads it (`sqlite-log-schema.ts`): its rows in the
 * main table and the key in the packed keys of the entries not yet merged; returns how many went.
 */
export function deleteEntryKeys(node: DamageTarget, transfer: string): number {
  return withDb(node.ledgerPath, (db) => deleteLookupKey(db, `transfer:${transfer}`));
}

/** Deletes `key` from a ledger.db's look-ups (see {@link deleteEntryKeys}); the number of entries it named. */
export function deleteLookupKey(db: Database.Database, key: string): number {
  const main = db.prepare("DELETE FROM entry_keys WHERE key = ?").run(key).changes;
  const unmerged = db
    .prepare(
      `UPDATE entries SET keys = (SELECT json_group_array(value) FROM json_each(entries.keys) WHERE value <> @key)
       WHERE idx >= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'indexMergedBelow')
         AND json_valid(keys) AND EXISTS (SELECT 1 FROM json_each(entries.keys) WHERE value = @key)`,
    )
    .run({ key }).changes;
  return main + unmerged;
}
