/**
 * The sequencer decides the order of entries: it fills in each record's `v` and `prev` (the previous leaf
 * hash, making the log a hash chain), canonicalises it, hashes the leaf, and hands the storage a batch to
 * commit in one transaction. It is an interface because a replicated log orders through etcd (a single
 * elected sequencer doing compare-and-swap on the head) while a single node orders locally; the records,
 * hashes and storage are the same either way.
 */
import { LedgerError } from "./errors.js";
import { encodeEntry } from "./entry/canonical-entry.js";
import { GENESIS_PREV, type OperationRecord, type RecordInput } from "./entry/operation-record.js";
import { assertRecordsCommitment } from "./entry/records-commitment.js";
import type { EntryToAppend, LogStorage } from "./log-storage.js";
import { CompactRange, type CompletedNode } from "./verify/compact-range.js";
import { fromHex, toHex } from "./verify/encoding.js";
import type { TreeHasher } from "./verify/hash.js";

/** One record to append; conversion records also pass the record hashes they commit to. */
export interface AppendRequest {
  readonly record: RecordInput;
  readonly recordHashes?: readonly string[];
}

/** Where an appended entry landed. */
export interface AppendResult {
  readonly index: number;
  readonly leafHash: string;
}

/** Orders and durably appends entries. */
export interface Sequencer {
  /** Appends the requests as one batch, in order; resolves once the batch is durable. */
  append(requests: readonly AppendRequest[]): Promise<AppendResult[]>;
}

/**
 * The single-node sequencer: appends serialised in-process. Another process on the same node (the
 * `kenshin admin` command next to a running server) may append to the same file; the storage refuses a
 * batch whose indices are already taken, and the sequencer then reloads the head and retries.
 */
export class LocalSequencer implements Sequencer {
  readonly #storage: LogStorage;
  readonly #hasher: TreeHasher;
  #range: CompactRange;
  #prev: string;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(storage: LogStorage, hasher: TreeHasher) {
    this.#storage = storage;
    this.#hasher = hasher;
    [this.#range, this.#prev] = this.#load();
  }

  append(requests: readonly AppendRequest[]): Promise<AppendResult[]> {
    const run = this.#queue.then(() => this.#appendWithRetry(requests));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #appendWithRetry(requests: readonly AppendRequest[]): AppendResult[] {
    for (let attempt = 1; ; attempt++) {
      try {
        return this.#appendNow(requests);
      } catch (error) {
        // #appendNow reloaded the head; retry only when another writer moved it meanwhile.
        if (attempt >= MAX_ATTEMPTS || this.#range.size === this.#sizeBefore) throw error;
      }
    }
  }

  #sizeBefore = 0;

  #appendNow(requests: readonly AppendRequest[]): AppendResult[] {
    this.#sizeBefore = this.#range.size;
    const firstIndex = this.#range.size;
    const entries: EntryToAppend[] = [];
    const nodes: CompletedNode[] = [];
    const results: AppendResult[] = [];
    try {
      for (const request of requests) {
        const record = { ...request.record, v: 1, prev: this.#prev } as OperationRecord;
        const recordHashes = recordHashesFor(record, request.recordHashes);
        const entry = encodeEntry(record);
        const leafHash = this.#hasher.hashLeaf(entry);
        nodes.push(...this.#range.append(leafHash));
        this.#prev = toHex(leafHash);
        entries.push({
          entry,
          leafHash,
          keys: lookupKeys(record),
          ...(recordHashes ? { recordHashes } : {}),
        });
        results.push({ index: firstIndex + results.length, leafHash: this.#prev });
      }
      this.#storage.appendBatch({ firstIndex, entries, nodes });
    } catch (error) {
      // Nothing of the batch was committed: forget what was staged in memory.
      [this.#range, this.#prev] = this.#load();
      throw error;
    }
    return results;
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

/** Attempts of one batch when another writer appended concurrently. */
const MAX_ATTEMPTS = 5;

function recordHashesFor(
  record: OperationRecord,
  hashes: readonly string[] | undefined,
): Uint8Array[] | undefined {
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
  assertRecordsCommitment(hashes, record.records);
  return hashes.map((h, i) => fromHex(h, `record hash ${i}`));
}

/** Index keys of a record: its transfer and every file hash it names. */
function lookupKeys(record: OperationRecord): string[] {
  const keys: string[] = [];
  if ("transfer" in record) keys.push(`transfer:${record.transfer}`);
  if ("file" in record) keys.push(`sha256:${record.file.sha256}`);
  if (record.type === "conversion")
    keys.push(`sha256:${record.input.sha256}`, `sha256:${record.output.sha256}`);
  return keys;
}
