/**
 * The ledger outbox in service.db (`ledger/outbox.ts`): table `ledger_outbox` (migration 4), on the same
 * connection the service's state changes use, so both are one SQLite transaction.
 */
import type { Outbox, OutboxEntry } from "../ledger/outbox.js";
import type { ServiceDb } from "./service-db.js";

interface Row {
  idx: number;
  entry: Buffer;
  keys: string;
  record_hashes: Buffer | null;
}

/** The outbox over an open service database. */
export function sqliteOutbox(db: ServiceDb): Outbox {
  const q = {
    insert: db.prepare("INSERT INTO ledger_outbox (idx, entry, keys, record_hashes) VALUES (?, ?, ?, ?)"),
    from: db.prepare<[number], Row>(
      "SELECT idx, entry, keys, record_hashes FROM ledger_outbox WHERE idx >= ? ORDER BY idx",
    ),
    below: db.prepare<[number], Row>(
      "SELECT idx, entry, keys, record_hashes FROM ledger_outbox WHERE idx < ? ORDER BY idx",
    ),
    deleteBelow: db.prepare("DELETE FROM ledger_outbox WHERE idx < ?"),
    any: db.prepare<[], { idx: number }>("SELECT idx FROM ledger_outbox LIMIT 1"),
  };
  return {
    transaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),
    savepoint: (fn) => {
      db.transaction(fn)();
    },
    put(entries) {
      for (const e of entries) {
        q.insert.run(
          e.index,
          e.entry,
          JSON.stringify(e.keys),
          e.recordHashes === undefined
            ? null
            : Buffer.from(e.recordHashes.buffer, e.recordHashes.byteOffset, e.recordHashes.byteLength),
        );
      }
    },
    from: (index) => q.from.all(index).map(toEntry),
    below: (size) => q.below.all(size).map(toEntry),
    deleteBelow: (size) => void q.deleteBelow.run(size),
    isEmpty: () => q.any.get() === undefined,
  };
}

function toEntry(row: Row): OutboxEntry {
  const entry = { index: row.idx, entry: new Uint8Array(row.entry), keys: JSON.parse(row.keys) as string[] };
  if (row.record_hashes === null) return entry;
  // One copy of the packed digests (the row's buffer is SQLite's).
  return { ...entry, recordHashes: new Uint8Array(row.record_hashes) };
}
