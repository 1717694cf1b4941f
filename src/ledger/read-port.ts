/**
 * The ledger's read side as the service sees it: entries, the lookup indexes and proofs, served from the
 * node's own replica of the log. Every node — embedded or a cluster member — keeps a full local copy
 * (`LogStorage`), so reads are synchronous; a cluster member answers only up to what it has replicated,
 * and proofs are built against a published checkpoint (`LedgerWritePort.checkpointCovering`).
 */
import type { FsckResult } from "./fsck.js";
import type { ConsistencyProofJson, InclusionProofJson } from "./ledger.js";
import type { VerifierKey } from "./verify/verifier-key.js";

/** Reads of one log replica. */
export interface LedgerReader {
  /** The log's origin (first line of its checkpoints). */
  readonly origin: string;
  /** Number of entries in the local replica. */
  size(): number;
  /** Exact stored (canonical) bytes of entry `index`. @throws LedgerError LEDGER_NOT_FOUND */
  entry(index: number): Uint8Array;
  /** The stored leaf hash of entry `index`. @throws LedgerError LEDGER_NOT_FOUND */
  leafHash(index: number): Uint8Array;
  /**
   * Indices indexed under `key`, ascending: `transfer:<id>`, `sha256:<hex>`, `institution:<id>`.
   */
  findByKey(key: string): number[];
  /**
   * {@link findByKey} with each entry's stored leaf hash, in one storage read (a list checks many
   * transfers, each by its leaf hashes). Optional: without it the caller reads them one by one.
   * @throws LedgerError LEDGER_NOT_FOUND when an indexed entry is not stored
   */
  keyedLeafHashes?(key: string): { readonly index: number; readonly leafHash: Uint8Array }[];
  /**
   * {@link keyedLeafHashes} for all keys of a list page in a few storage reads: each key to its entries
   * ([] when none), or to null when one of its indexed entries is not stored (that key alone is refused).
   */
  keyedLeafHashesOf?(
    keys: readonly string[],
  ): Map<string, { readonly index: number; readonly leafHash: Uint8Array }[] | null>;
  /** Stored bytes of many entries in one storage read; an index with no stored entry is absent. */
  entriesAt?(indices: readonly number[]): Map<number, Uint8Array>;
  /** Indices of the entries with this leaf hash (normally one). */
  findByLeafHash(leafHash: Uint8Array): number[];
  /** The newest `limit` indices under `key` below `before` (default: all), newest first. */
  latestByKey(key: string, limit: number, before?: number): number[];
  /** Where a standard record's hash occurs: conversion entry index and record position. */
  findRecord(recordHash: Uint8Array): { index: number; position: number }[];
  /** Record hashes of a conversion entry, in record order. */
  recordHashes(index: number): Uint8Array[];
  /** Inclusion proof of entry `index` in the tree of `size` (a published checkpoint's size). */
  inclusionProof(index: number, size: number): InclusionProofJson;
  /** Consistency proof between two tree sizes. */
  consistencyProof(from: number, to: number): ConsistencyProofJson;
  /** Checks the whole replica against its signed checkpoints (see `fsck.ts`). */
  fsck(logKey: VerifierKey): FsckResult;
}
