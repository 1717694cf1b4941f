/**
 * fsck's per-entry checks, in the order `fsck.ts` documents: the index has no gap, the bytes hash to the
 * stored leaf hash, they decode to a canonical valid record, its prev is the previous leaf hash, and a
 * conversion's stored record hashes match its commitment. Independent of the tree, so the entries can be
 * checked in pages by worker threads (`store/sqlite-log-fsck.ts`) while the tree is checked elsewhere.
 *
 * The usual entry is checked on its bytes alone (`entry/compiled-bytes-check.ts`: plain canonical text of
 * a valid record, in one pass, prev compared as hex digits with the previous leaf hash); anything that
 * pass does not accept — and every conversion, whose commitment needs the parsed record — is decoded by
 * `decodeEntry`, whose verdict and codes are the same as before.
 */
import { decodeEntry, scanStoredEntry } from "./entry/canonical-entry.js";
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
  /** Leaf hash of the entry before the next one (null: the next is the first of the log). */
  #prevLeaf: Uint8Array | null;

  /**
   * @param first the index of the first entry it will be given
   * @param prevLeaf the leaf hash of entry `first - 1` (null for the first entry of the log)
   */
  constructor(storage: LogStorage, hasher: TreeHasher, first = 0, prevLeaf: Uint8Array | null = null) {
    this.#storage = storage;
    this.#hasher = hasher;
    this.#expected = first;
    this.#prevLeaf = prevLeaf;
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
    // The usual entry: plain canonical text of a valid record whose prev links (one pass over the bytes).
    const scanned = scanStoredEntry(current.entry);
    if (
      scanned === null ||
      scanned.kind === "conversion" ||
      !isHexOf(current.entry, scanned.capturedAt + 1, this.#prevLeaf)
    ) {
      this.#checkDecoded(current, i, leaf, next);
    }
    this.#expected = i + 1;
    this.#prevLeaf = leaf;
    return leaf;
  }

  /** The full checks on the decoded record: its verdict and error codes are `decodeEntry`'s. */
  #checkDecoded(current: StoredEntry, i: number, leaf: Uint8Array, next: StoredEntry | undefined): void {
    const record = decodeAt(current.entry, i);
    const prev = this.#prevLeaf === null ? GENESIS_PREV : hex(this.#prevLeaf);
    if (record.prev !== prev) throw this.#blameChainBreak(record, i, leaf, next?.entry ?? null);
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

const HEX_DIGITS = Uint8Array.from("0123456789abcdef", (c) => c.charCodeAt(0));

/** Whether the 64 bytes at `at` are the lower-case hex of `leaf` (of 32 zero bytes when null: genesis). */
function isHexOf(bytes: Uint8Array, at: number, leaf: Uint8Array | null): boolean {
  if (at < 1 || at + 64 > bytes.length) return false;
  for (let k = 0; k < 32; k++) {
    const byte = leaf === null ? 0 : (leaf[k] as number);
    if (bytes[at + 2 * k] !== HEX_DIGITS[byte >> 4] || bytes[at + 2 * k + 1] !== HEX_DIGITS[byte & 15]) {
      return false;
    }
  }
  return true;
}

/** Lower-case hex (node's own encoder: fsck runs only in Node). */
function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
