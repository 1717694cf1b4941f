/**
 * The sequencer decides the order of entries: it fills in each record's `v` and `prev` (the previous leaf
 * hash, making the log a hash chain), canonicalises it, hashes the leaf, and hands the storage a batch to
 * commit in one transaction. A single node orders locally (this file); a replicated log orders through a
 * single elected sequencer on etcd (see `write-port.ts`). Records, hashes and storage are the same either
 * way.
 *
 * Records are checked against the schema when a call is made ({@link checkRequests}), so a bad record is
 * refused before it joins a batch; encoding happens once the batch fixes `prev`.
 */
import { LedgerError } from "./errors.js";
import { canonicalBytes } from "./entry/canonical-entry.js";
import { entryTemplate, fillPrev, TEMPLATE_PREV, type EntryTemplate } from "./entry/entry-template.js";
import { lookupKeys } from "./entry/lookup-keys.js";
import { GENESIS_PREV, type OperationRecord } from "./entry/operation-record.js";
import {
  assertRecordsCommitment,
  packRecordHashes,
  type RecordHashList,
} from "./entry/records-commitment.js";
import type { AppendBatch, EntryToAppend, LogStorage } from "./log-storage.js";
import { CompactRange, type CompletedNode } from "./verify/compact-range.js";
import { toHex } from "./verify/encoding.js";
import type { TreeHasher } from "./verify/hash.js";
import type { AppendRequest, AppendResult } from "./write-port.js";

export type { AppendRequest, AppendResult } from "./write-port.js";

/** Orders and durably appends entries. */
export interface Sequencer {
  /** Appends the requests as one batch, in order; resolves once the batch is durable. */
  append(requests: readonly AppendRequest[]): Promise<AppendResult[]>;
}

/**
 * A request that passed {@link checkRequests}: the record, its record hashes packed 32 bytes each, and —
 * taken from the same snapshot of the record, so a caller changing its object later changes nothing —
 * its leaf bytes with `prev` open and its index keys.
 */
export interface CheckedRequest {
  readonly record: AppendRequest["record"];
  readonly recordHashes?: Uint8Array | undefined;
  readonly template?: EntryTemplate | undefined;
  readonly keys?: readonly string[];
}

/** A batch ordered in memory, ready for `LogStorage.appendBatch`. */
export interface StagedBatch extends AppendBatch {
  readonly results: AppendResult[];
}

/**
 * Checks records against the schema (with the `v` and `prev` the sequencer will set) and a conversion's
 * record hashes against its commitment.
 * @throws LedgerError LEDGER_ENTRY_INVALID
 */
export function checkRequests(requests: readonly AppendRequest[]): CheckedRequest[] {
  return requests.map((request) => {
    // One snapshot of the caller's record: checked and written (with prev open) now, keys taken from it.
    const record = { ...request.record, v: 1, prev: TEMPLATE_PREV } as OperationRecord;
    const template = entryTemplate(record);
    const recordHashes = recordHashesFor(record, request.recordHashes);
    // Without a template (see entry-template.ts) the record is encoded again when staged. One object
    // with every member set (undefined where absent) rather than spread copies per optional member.
    return { record: request.record, keys: lookupKeys(record), template, recordHashes };
  });
}

/**
 * Local ordering over one storage: the head (compact range and last leaf hash) kept in memory. Another
 * process on the same node (`kenshin admin` next to a running server) may append to the same file; the
 * caller holds the storage's write lock while staging and committing, and {@link sync} reloads the head
 * when the stored size moved.
 */
export class LocalOrder {
  readonly #storage: LogStorage;
  readonly #hasher: TreeHasher;
  #range: CompactRange;
  #prev: string;

  constructor(storage: LogStorage, hasher: TreeHasher) {
    this.#storage = storage;
    this.#hasher = hasher;
    [this.#range, this.#prev] = this.#load();
  }

  /** Number of entries the head covers. */
  get size(): number {
    return this.#range.size;
  }

  /** Root of the head's tree (O(log n) hashes, no storage reads). */
  root(): Uint8Array {
    return this.#range.root();
  }

  /** Reloads the head when the stored log is not where this head thinks it is. */
  sync(): void {
    if (this.#storage.size() !== this.#range.size) [this.#range, this.#prev] = this.#load();
  }

  /** Orders checked requests after the head and advances the head (call {@link reload} if not committed). */
  stage(requests: readonly CheckedRequest[]): StagedBatch {
    const firstIndex = this.#range.size;
    const entries: EntryToAppend[] = [];
    const nodes: CompletedNode[] = [];
    const results: AppendResult[] = [];
    for (const request of requests) {
      const template = request.template;
      const record =
        template === undefined
          ? ({ ...request.record, v: 1, prev: this.#prev } as OperationRecord)
          : undefined;
      const entry =
        record === undefined ? fillPrev(template as EntryTemplate, this.#prev) : canonicalBytes(record);
      const leafHash = this.#hasher.hashLeaf(entry);
      for (const node of this.#range.append(leafHash)) nodes.push(node);
      this.#prev = hex(leafHash);
      const keys = request.keys ?? lookupKeys(record ?? request.record);
      const recordHashes = request.recordHashes;
      entries.push(
        recordHashes === undefined ? { entry, leafHash, keys } : { entry, leafHash, keys, recordHashes },
      );
      results.push({ index: firstIndex + results.length, leafHash: this.#prev });
    }
    return { firstIndex, entries, nodes, results };
  }

  /** Advances the head over entries appended by someone else (an outbox replay) without reloading. */
  advance(entries: readonly { readonly leafHash: Uint8Array }[]): CompletedNode[] {
    const nodes: CompletedNode[] = [];
    for (const e of entries) {
      for (const node of this.#range.append(e.leafHash)) nodes.push(node);
      this.#prev = hex(e.leafHash);
    }
    return nodes;
  }

  /** Forgets what was staged: the head is read back from storage. */
  reload(): void {
    [this.#range, this.#prev] = this.#load();
  }

  /** Rebuilds the compact range from the perfect subtrees of the stored size: O(log n) reads. */
  #load(): [CompactRange, string] {
    const size = this.#storage.size();
    const hashes: Uint8Array[] = [];
    let start = 0;
    for (let level = 62; level >= 0; level--) {
      if (start + 2 ** level <= size && Math.floor(size / 2 ** level) % 2 === 1) {
        hashes.push(this.#storage.node(level, start / 2 ** level));
        start += 2 ** level;
      }
    }
    const prev = size === 0 ? GENESIS_PREV : toHex(this.#storage.node(0, size - 1));
    return [new CompactRange(this.#hasher, size, hashes), prev];
  }
}

/**
 * The single-node sequencer for direct users of `Ledger` (the `kenshin ledger` commands, tests): each
 * call is its own batch, serialised in-process, written under the storage's write lock.
 */
export class LocalSequencer implements Sequencer {
  readonly #storage: LogStorage;
  readonly #order: LocalOrder;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(storage: LogStorage, hasher: TreeHasher) {
    this.#storage = storage;
    this.#order = new LocalOrder(storage, hasher);
  }

  append(requests: readonly AppendRequest[]): Promise<AppendResult[]> {
    const run = this.#queue.then(() => this.#appendNow(checkRequests(requests)));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #appendNow(requests: readonly CheckedRequest[]): AppendResult[] {
    try {
      return this.#storage.writeTransaction(() => {
        this.#order.sync();
        const staged = this.#order.stage(requests);
        this.#storage.appendBatch(staged);
        return staged.results;
      });
    } catch (error) {
      // Nothing of the batch was committed: forget what was staged in memory.
      this.#order.reload();
      throw error;
    }
  }
}

/**
 * Lower-case hex of a leaf hash by node's own encoder: one flat string, where the pure `toHex` builds it
 * from 32 pieces that `fillPrev` then has to flatten (the sequencer runs only in Node).
 */
function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

function recordHashesFor(
  record: OperationRecord,
  hashes: RecordHashList | undefined,
): Uint8Array | undefined {
  if (record.type !== "conversion") {
    if (hashes !== undefined) {
      throw new LedgerError("LEDGER_ENTRY_INVALID", "レコードハッシュを持てるのは変換記録だけです", {
        type: record.type,
      });
    }
    return undefined;
  }
  if (hashes === undefined) {
    throw new LedgerError("LEDGER_ENTRY_INVALID", "変換記録にはレコードハッシュが必要です");
  }
  // Both steps stream over the hashes: no tree and no array per hash for a million records.
  assertRecordsCommitment(hashes, record.records);
  return packRecordHashes(hashes);
}
