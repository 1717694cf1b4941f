/**
 * What a ledger repair writes, computed over the copy as it is *at the moment of the write* — the node
 * keeps applying the log while the repair talks to its peers, so the entries appended meanwhile are
 * part of the tree that is rebuilt (before, the interior nodes were rebuilt over the size read before
 * the peer round trips and every node of the entries appended since was dropped: the re-check then
 * found LEDGER_NODE_MISMATCH and the repair started again, for ever while uploads went on).
 *
 * Each entry, in index order:
 * - below the published size N: the proven entry where the peer's differs from ours, else our own
 *   bytes (their stored leaf hash corrected when it is wrong);
 * - from N on (not provable yet): our own record, its `prev` re-linked onto the repaired entry before
 *   it when it names another leaf. A consistent rewrite re-chains every entry after the one it changed,
 *   and a node whose in-memory head was loaded from the rewritten copy (the sequencer reloads it for
 *   every batch) keeps chaining new entries onto the rewritten leaves: without the re-link the repaired
 *   prefix would be followed by a broken chain, and the head reloaded after the repair would carry the
 *   divergence on. The records themselves are kept as they are; they are proven (or replaced) by the
 *   next full check, against the next published checkpoint.
 *
 * The caller calls `extendTo(size)` with the stored size right before writing (synchronously, so nothing
 * is appended between the two).
 */
import { decodeEntry, encodeEntry } from "../../ledger/entry/canonical-entry.js";
import { GENESIS_PREV, type OperationRecord } from "../../ledger/entry/operation-record.js";
import type { LogStorage } from "../../ledger/log-storage.js";
import { CompactRange, type CompletedNode } from "../../ledger/verify/compact-range.js";
import { bytesEqual, toHex } from "../../ledger/verify/encoding.js";
import type { TreeHasher } from "../../ledger/verify/hash.js";
import { ClusterError } from "../errors.js";
import { readEntry } from "./entry-checks.js";

export interface ProvenEntry {
  readonly bytes: Uint8Array;
  readonly leaf: Uint8Array;
  readonly record: OperationRecord;
}

/** What was read before the peer round trips: the recomputed leaves of [0, size) and wrong stored hashes. */
export interface FirstRead {
  readonly size: number;
  readonly leaves: readonly (Uint8Array | undefined)[];
  readonly leafColumnWrong: ReadonlySet<number>;
}

export class RebuiltCopy {
  readonly #storage: LogStorage;
  readonly #hasher: TreeHasher;
  readonly #published: number;
  readonly #first: FirstRead;
  readonly #proven: ReadonlyMap<number, ProvenEntry>;
  readonly #range: CompactRange;
  readonly #leaves: Uint8Array[] = [];
  /** Sizes whose root is wanted (stored checkpoints, the published size). */
  readonly #rootSizes: Set<number>;
  readonly roots = new Map<number, Uint8Array>();
  readonly nodes: CompletedNode[] = [];
  /** Entries to write: bytes and leaf hash (proven, re-linked, or a corrected stored leaf hash). */
  readonly puts = new Map<number, { bytes: Uint8Array; leaf: Uint8Array }>();
  /** Records of the entries whose bytes change (their index rows are written again). */
  readonly records = new Map<number, OperationRecord>();
  readonly replaced: number[] = [];
  readonly relinked: number[] = [];

  constructor(o: {
    storage: LogStorage;
    hasher: TreeHasher;
    publishedSize: number;
    first: FirstRead;
    proven: ReadonlyMap<number, ProvenEntry>;
    rootSizes: Iterable<number>;
  }) {
    this.#storage = o.storage;
    this.#hasher = o.hasher;
    this.#published = o.publishedSize;
    this.#first = o.first;
    this.#proven = o.proven;
    this.#range = new CompactRange(o.hasher);
    this.#rootSizes = new Set(o.rootSizes);
  }

  get size(): number {
    return this.#leaves.length;
  }

  wantRoot(size: number): void {
    if (size > this.size) this.#rootSizes.add(size);
  }

  /** Whether anything in the entries or their stored hashes changes. */
  get changesEntries(): boolean {
    return this.puts.size > 0;
  }

  /**
   * Takes the entries up to `size` (the stored size now, or the published size if larger).
   * @throws ClusterError CLUSTER_REPAIR_FAILED an entry is missing and no peer proved it
   */
  extendTo(size: number): void {
    for (let i = this.size; i < size; i++) {
      const leaf = this.#entry(i);
      this.#leaves.push(leaf);
      for (const n of this.#range.append(leaf)) this.nodes.push(n);
      if (this.#rootSizes.has(this.#range.size)) this.roots.set(this.#range.size, this.#range.root());
    }
  }

  #entry(i: number): Uint8Array {
    const proven = this.#proven.get(i);
    const early = i < this.#published && i < this.#first.size;
    const local = early ? this.#first.leaves[i] : undefined;
    const stored =
      early && local !== undefined && proven === undefined ? undefined : readEntry(this.#storage, i);
    const own = early ? local : stored === undefined ? undefined : this.#hasher.hashLeaf(stored.entry);
    if (proven !== undefined && (own === undefined || !bytesEqual(own, proven.leaf))) {
      this.puts.set(i, { bytes: proven.bytes, leaf: proven.leaf });
      this.records.set(i, proven.record);
      this.replaced.push(i);
      return proven.leaf;
    }
    if (own === undefined) {
      throw new ClusterError("CLUSTER_REPAIR_FAILED", "欠けたエントリを補えません", { missing: i });
    }
    if (i >= this.#published) {
      const relinked = this.#relink(i, stored);
      if (relinked !== undefined) return relinked;
    }
    const wrongColumn = early
      ? this.#first.leafColumnWrong.has(i)
      : stored !== undefined && !bytesEqual(own, stored.leafHash);
    if (wrongColumn) {
      const bytes = (stored ?? readEntry(this.#storage, i))?.entry;
      if (bytes !== undefined) this.puts.set(i, { bytes, leaf: own });
    }
    return own;
  }

  /** Entry i (past the published size) with its `prev` set to the rebuilt leaf before it, if it differs. */
  #relink(i: number, stored: { entry: Uint8Array } | undefined): Uint8Array | undefined {
    if (stored === undefined) return undefined;
    let record: OperationRecord;
    try {
      record = decodeEntry(stored.entry);
    } catch {
      return undefined;
    }
    const before = this.#leaves[i - 1];
    const prev = i === 0 || before === undefined ? GENESIS_PREV : toHex(before);
    if (record.prev === prev) return undefined;
    const changed = { ...record, prev } as OperationRecord;
    const bytes = encodeEntry(changed);
    const leaf = this.#hasher.hashLeaf(bytes);
    this.puts.set(i, { bytes, leaf });
    this.records.set(i, changed);
    this.relinked.push(i);
    return leaf;
  }
}
