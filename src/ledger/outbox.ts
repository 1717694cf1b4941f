/**
 * Where the embedded node makes a batch's state changes and its entries one atomic step: the service
 * database. A batch that carries state changes is written there first — state changes and the ordered
 * entries (with their indices) in one transaction — and then appended to the ledger file; a batch a
 * crash left between the two is appended from here, with the same indices and bytes, by the next batch
 * or at start-up. The SQLite implementation is `store/sqlite-outbox.ts`.
 */

/** One ordered entry waiting in the outbox. */
export interface OutboxEntry {
  readonly index: number;
  readonly entry: Uint8Array;
  readonly keys: readonly string[];
  /** Record hashes of a conversion entry, packed 32 bytes each. */
  readonly recordHashes?: Uint8Array;
}

/** The outbox and the transaction it shares with the service's state changes. */
export interface Outbox {
  /** Runs `fn` in one write transaction of the service database; durable when it returns. */
  transaction<T>(fn: () => T): T;
  /** Runs `fn` inside the current transaction so that, if it throws, only its own writes are undone. */
  savepoint(fn: () => void): void;
  /** Stores entries (inside {@link transaction}). */
  put(entries: readonly OutboxEntry[]): void;
  /** Entries with index ≥ `index`, ascending. */
  from(index: number): OutboxEntry[];
  /** Index and entry bytes of the entries below `size` (already in the ledger), ascending. */
  below(size: number): OutboxEntry[];
  /** Deletes the entries below `size`. */
  deleteBelow(size: number): void;
  /** Whether any entry is waiting (cheap). */
  isEmpty(): boolean;
}
