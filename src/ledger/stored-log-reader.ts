/**
 * The ledger's read port (`read-port.ts`) over one stored log: every read is answered from this node's
 * ledger.db (entries, lookup indexes, proofs, fsck) and never from elsewhere — a cluster member answers
 * only up to what it has applied. Both write ports are this reader plus their write path: the embedded
 * publisher (`embedded-ledger.ts`) and the cluster's (`cluster/cluster-ledger.ts`), so the reads are
 * written once.
 */
import { fsck, type FsckResult } from "./fsck.js";
import type { ConsistencyProofJson, InclusionProofJson, Ledger } from "./ledger.js";
import {
  entriesAt,
  keyedLeafHashes,
  keyedLeafHashesOf,
  storedLeafHash,
  type LogStorage,
} from "./log-storage.js";
import type { LedgerReader } from "./read-port.js";
import type { VerifierKey } from "./verify/verifier-key.js";

/** Reads of a stored log: `storage` is the node's ledger.db, `ledger` the tree over the same storage. */
export class StoredLogReader implements LedgerReader {
  readonly #storage: LogStorage;
  readonly #ledger: Ledger;

  constructor(storage: LogStorage, ledger: Ledger) {
    this.#storage = storage;
    this.#ledger = ledger;
  }

  size(): number {
    return this.#storage.size();
  }
  get origin(): string {
    return this.#storage.origin;
  }
  entry(index: number): Uint8Array {
    return this.#storage.entry(index).entry;
  }
  leafHash(index: number): Uint8Array {
    return storedLeafHash(this.#storage, index);
  }
  findByLeafHash(leafHash: Uint8Array): number[] {
    return this.#storage.findByLeafHash(leafHash);
  }
  findByKey(key: string): number[] {
    return this.#storage.findByKey(key);
  }
  keyedLeafHashes(key: string): { readonly index: number; readonly leafHash: Uint8Array }[] {
    return keyedLeafHashes(this.#storage, key);
  }
  keyedLeafHashesOf(
    keys: readonly string[],
  ): Map<string, { readonly index: number; readonly leafHash: Uint8Array }[] | null> {
    return keyedLeafHashesOf(this.#storage, keys);
  }
  entriesAt(indices: readonly number[]): Map<number, Uint8Array> {
    return entriesAt(this.#storage, indices);
  }
  latestByKey(key: string, limit: number, before?: number): number[] {
    return this.#storage.latestByKey(key, limit, before);
  }
  findRecord(recordHash: Uint8Array): { index: number; position: number }[] {
    return this.#storage.findRecord(recordHash);
  }
  recordHashes(index: number): Uint8Array[] {
    return this.#storage.recordHashes(index);
  }
  inclusionProof(index: number, size: number): InclusionProofJson {
    return this.#ledger.inclusionProof(index, size);
  }
  consistencyProof(from: number, to: number): ConsistencyProofJson {
    return this.#ledger.consistencyProof(from, to);
  }
  fsck(logKey: VerifierKey): FsckResult {
    return fsck(this.#storage, logKey);
  }
  /** Root of the stored log at `size`. */
  root(size?: number): Uint8Array {
    return this.#ledger.root(size);
  }
}
