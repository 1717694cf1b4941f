/** An index found under a look-up key and the stored leaf hash of its entry (null: no such entry row). */
export interface KeyedLeafHash {
  readonly index: number;
  readonly leafHash: Uint8Array | null;
}

/**
 * The storage a log node keeps: its own copy of the entries, the interior node hashes that make proofs
 * O(log n) reads, the indexes that find entries by hash, and the signed checkpoints. Synchronous on
 * purpose: every node (single or replicated) holds a local copy; what a replicated version changes is who
 * decides the order (`sequencer.ts`, `write-port.ts`), not this. The SQLite implementation is `store/sqlite-log.ts`.
 */
import { LedgerError } from "./errors.js";
import type { NodeReader } from "./proof-builder.js";
import type { CompletedNode } from "./verify/compact-range.js";

/** One entry as stored. */
export interface StoredEntry {
  readonly index: number;
  readonly entry: Uint8Array;
  readonly leafHash: Uint8Array;
}

/** One entry to append, with what the indexes need. */
export interface EntryToAppend {
  readonly entry: Uint8Array;
  readonly leafHash: Uint8Array;
  /** Lookup keys such as `transfer:<id>` and `sha256:<hex>`. */
  readonly keys: readonly string[];
  /** Record hashes of a conversion entry, in record order, packed 32 bytes each. */
  readonly recordHashes?: Uint8Array;
}

/** A batch the sequencer has ordered: entries from `firstIndex` on and the interior nodes they complete. */
export interface AppendBatch {
  readonly firstIndex: number;
  readonly entries: readonly EntryToAppend[];
  readonly nodes: readonly CompletedNode[];
}

/** A signed checkpoint as stored. */
export interface StoredCheckpoint {
  readonly size: number;
  readonly root: Uint8Array;
  readonly note: string;
}

/** A stored interior node in completion order (see {@link LogStorage.scanNodes}). */
export interface StoredNode extends CompletedNode {
  /** Number of leaves in the tree when this node became complete: (index + 1) · 2^level. */
  readonly completedAt: number;
}

/** Storage of one log replica. */
export interface LogStorage extends NodeReader {
  /** The log's origin (checkpoint first line) and verifier key, fixed at creation. */
  readonly origin: string;
  readonly verifierKey: string;
  size(): number;
  /** Entry at `index`; throws LEDGER_NOT_FOUND past the end. */
  entry(index: number): StoredEntry;
  /**
   * Appends a batch atomically and durably: when this returns (outside {@link writeTransaction}), the
   * batch survives a crash. Refuses a batch that does not start at the stored size.
   */
  appendBatch(batch: AppendBatch): void;
  /**
   * Runs `fn` holding the log's write lock, as one transaction: appends and checkpoints made inside
   * commit together when `fn` returns (one fsync) and not at all when it throws. Another process waits
   * for the lock, so the head cannot move under `fn`.
   */
  writeTransaction<T>(fn: () => T): T;
  /** Indices of entries whose leaf hash is `leafHash`. */
  findByLeafHash(leafHash: Uint8Array): number[];
  /** Indices of entries indexed under `key`, ascending. */
  findByKey(key: string): number[];
  /**
   * {@link findByKey} with each entry's stored leaf hash, in one read (null where the index names no
   * stored entry). Optional: a storage without it is read index by index.
   */
  keyedLeafHashes?(key: string): KeyedLeafHash[];
  /**
   * {@link keyedLeafHashes} for many keys in one read (a list page): each key to its rows in index order;
   * a key with no rows is absent. Optional: a storage without it is read key by key.
   */
  keyedLeafHashesOf?(keys: readonly string[]): Map<string, KeyedLeafHash[]>;
  /** The stored bytes of the given entries in one read; an index with no stored entry is absent. Optional. */
  entriesAt?(indices: readonly number[]): Map<number, Uint8Array>;
  /** The newest `limit` indices under `key` below `before`, newest first. */
  latestByKey(key: string, limit: number, before?: number): number[];
  /** Where a record hash occurs: conversion entry index and record position. */
  findRecord(recordHash: Uint8Array): { index: number; position: number }[];
  /** All record hashes of a conversion entry, in record order. */
  recordHashes(index: number): Uint8Array[];
  latestCheckpoint(): StoredCheckpoint | null;
  /** Every stored checkpoint, by size ascending (streamed: a log may hold very many). */
  scanCheckpoints(): Iterable<StoredCheckpoint>;
  /**
   * Runs `decide` with the latest checkpoint and stores what it returns, in one exclusive transaction, so
   * checking "consistent with what I signed before" and recording the new one cannot race.
   */
  saveCheckpoint(
    decide: (latest: StoredCheckpoint | null) => StoredCheckpoint | null,
  ): StoredCheckpoint | null;
  /**
   * Runs `fn` (which only reads) so that every read inside sees one snapshot of the log, even while
   * another connection appends: fsck's scans of entries, nodes and checkpoints then agree with each other.
   * Optional: a storage without it is read as it goes.
   */
  readSnapshot?<T>(fn: () => T): T;
  /** All entries in index order, as stored (for fsck). */
  scanEntries(): Iterable<StoredEntry>;
  /** All stored interior nodes in completion order (for fsck). */
  scanNodes(): Iterable<StoredNode>;
  close(): void;
}

/**
 * The stored leaf hash of entry `index`, read as tree node (0, index): the 32 bytes only, not the entry
 * row (the list of transfers reads one per entry).
 * @throws LedgerError LEDGER_NOT_FOUND past the end, as {@link LogStorage.entry} does
 */
export function storedLeafHash(storage: LogStorage, index: number): Uint8Array {
  try {
    return storage.node(0, index);
  } catch (error) {
    if (error instanceof LedgerError && error.code === "LEDGER_NODE_MISMATCH")
      throw new LedgerError("LEDGER_NOT_FOUND", "その番号のエントリはありません", { index });
    throw error;
  }
}

/**
 * The entries indexed under `key` with their stored leaf hashes: one storage read where the storage
 * offers it, else one per entry.
 * @throws LedgerError LEDGER_NOT_FOUND when an indexed entry is not stored
 */
export function keyedLeafHashes(
  storage: LogStorage,
  key: string,
): { readonly index: number; readonly leafHash: Uint8Array }[] {
  if (storage.keyedLeafHashes === undefined) {
    return storage.findByKey(key).map((index) => ({ index, leafHash: storedLeafHash(storage, index) }));
  }
  return storage.keyedLeafHashes(key).map(({ index, leafHash }) => {
    if (leafHash === null)
      throw new LedgerError("LEDGER_NOT_FOUND", "その番号のエントリはありません", { index });
    return { index, leafHash };
  });
}

/** Keys per storage read of {@link keyedLeafHashesOf} (a list page reads up to 2,000 transfers). */
const KEYS_PER_READ = 500;

/**
 * {@link keyedLeafHashes} for many keys: a few storage reads where the storage offers it, else one per
 * key. A key with no entries maps to []; a key one of whose indexed entries is not stored maps to null
 * (that key alone is refused, the others are answered).
 */
export function keyedLeafHashesOf(
  storage: LogStorage,
  keys: readonly string[],
): Map<string, { readonly index: number; readonly leafHash: Uint8Array }[] | null> {
  const out = new Map<string, { readonly index: number; readonly leafHash: Uint8Array }[] | null>();
  if (storage.keyedLeafHashesOf === undefined) {
    for (const key of keys) {
      try {
        out.set(key, keyedLeafHashes(storage, key));
      } catch (error) {
        if (!(error instanceof LedgerError && error.code === "LEDGER_NOT_FOUND")) throw error;
        out.set(key, null);
      }
    }
    return out;
  }
  for (let from = 0; from < keys.length; from += KEYS_PER_READ) {
    const part = keys.slice(from, from + KEYS_PER_READ);
    const found = storage.keyedLeafHashesOf(part);
    for (const key of part) {
      const rows = found.get(key) ?? [];
      const complete = rows.every((r) => r.leafHash !== null);
      out.set(key, complete ? (rows as { index: number; leafHash: Uint8Array }[]) : null);
    }
  }
  return out;
}

/** The stored bytes of many entries: one read where the storage offers it; a missing entry is absent. */
export function entriesAt(storage: LogStorage, indices: readonly number[]): Map<number, Uint8Array> {
  if (storage.entriesAt !== undefined) return storage.entriesAt(indices);
  const out = new Map<number, Uint8Array>();
  for (const index of indices) {
    try {
      out.set(index, storage.entry(index).entry);
    } catch (error) {
      if (!(error instanceof LedgerError && error.code === "LEDGER_NOT_FOUND")) throw error;
    }
  }
  return out;
}
