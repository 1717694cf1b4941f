/**
 * fsck's per-entry checks, in the order `fsck.ts` documents: the index has no gap, the bytes hash to the
 * stored leaf hash, they decode to a canonical valid record, its prev is the previous leaf hash, and a
 * conversion's stored record hashes match its commitment. Independent of the tree, so the entries can be
 * checked in pages by worker threads (`store/sqlite-log-fsck.ts`) while the tree is checked elsewhere.
 */
import { decodeEntry } from "./entry/canonical-entry.js";
import { GENESIS_PREV, type OperationRecord } from "./entry/operation-record.js";
import { assertRecordsCommitment } from "./entry/records-commitment.js";
import { LedgerError } from "./errors.js";
import { Failure } from "./fsck-failure.js";
import type { LogStorage, StoredEntry } from "./log-storage.js";
import { fromHex } from "./verify/encoding.js";
import type { TreeHasher } from "./verify/hash.js";

/** Checks consecutive entries from `first` on; returns each one's leaf hash or throws a {@link Failure}. */
export class EntryChecker {
  readonly #storage: LogStorage;
  readonly #hasher: TreeHasher;
  #expected: number;
  #prev: string;

  /**
   * @param first the index of the first entry it will be given
   * @param prevLeaf the leaf hash of entry `first - 1` (null for the first entry of the log)
   */
  constructor(storage: LogStorage, hasher: TreeHasher, first = 0, prevLeaf: Uint8Array | null = null) {
    this.#storage = storage;
    this.#hasher = hasher;
    this.#expected = first;
    this.#prev = prevLeaf === null ? GENESIS_PREV : hex(prevLeaf);
  }

  /**
   * Checks `current` (the next row in index order); `next` is the row after it, if any, whose prev
   * witnesses `current`'s leaf hash when the chain breaks.
   */
  check(current: StoredEntry, next: StoredEntry | undefined): Uint8Array {
    const i = this.#expected;
    if (current.index !== i) throw new Failure("LEDGER_ENTRY_MISSING", i, `エントリ #${i} がありません`);
    const leaf = this.#hasher.hashLeaf(current.entry);
    if (!sameBytes(leaf, current.leafHash)) {
      throw new Failure("LEDGER_LEAF_HASH_MISMATCH", i, `エントリ #${i} の内容が葉ハッシュと一致しません`);
    }
    const record = decodeAt(current.entry, i);
    if (record.prev !== this.#prev) throw this.#blameChainBreak(record, i, leaf, next?.entry ?? null);
    if (record.type === "conversion") {
      try {
        assertRecordsCommitment(this.#storage.recordHashes(i), record.records);
      } catch (error) {
        throw new Failure(
          "LEDGER_RECORDS_ROOT_MISMATCH",
          i,
          `エントリ #${i} のレコードハッシュが根と一致しません`,
          { cause: (error as LedgerError).code },
        );
      }
    }
    this.#expected = i + 1;
    this.#prev = hex(leaf);
    return leaf;
  }

  /**
   * Decides which side of a broken prev link changed: each entry's prev is the witness, written when it
   * was appended, of its predecessor's leaf hash.
   */
  #blameChainBreak(
    record: OperationRecord,
    i: number,
    leaf: Uint8Array,
    nextEntry: Uint8Array | null,
  ): Failure {
    const named = record.prev === GENESIS_PREV ? [] : this.#storage.findByLeafHash(fromHex(record.prev));
    if (named.some((j) => j !== i - 1)) {
      return new Failure(
        "LEDGER_ENTRY_OUT_OF_ORDER",
        i,
        `エントリ #${i} は別の位置のエントリの次に書かれたものです`,
        { prevAt: named },
        true,
      );
    }
    const successorLinks = nextEntry === null || decodeSafely(nextEntry)?.prev === hex(leaf);
    if (!successorLinks || i === 0) {
      return new Failure(
        "LEDGER_CHAIN_BROKEN",
        i,
        `エントリ #${i} の prev が前のエントリと一致しません`,
        {},
        true,
      );
    }
    return new Failure(
      "LEDGER_ENTRY_REWRITTEN",
      i - 1,
      `エントリ #${i - 1} が書き換えられています (次のエントリの prev と不一致)`,
      {},
      true,
    );
  }
}

function decodeAt(bytes: Uint8Array, index: number): OperationRecord {
  try {
    return decodeEntry(bytes);
  } catch (error) {
    if (error instanceof LedgerError)
      throw new Failure(error.code, index, `エントリ #${index}: ${error.message}`);
    throw error;
  }
}

function decodeSafely(bytes: Uint8Array): OperationRecord | null {
  try {
    return decodeEntry(bytes);
  } catch {
    return null;
  }
}

/** Lower-case hex (node's own encoder: fsck runs only in Node). */
function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
