/**
 * fsck: recompute everything from the stored entries and compare with the signed checkpoints, as
 * transparency-dev/tessera's fsck does. Reports the first bad index and what kind of change was found:
 *
 * - a gap in the indices (deleted row)                          → LEDGER_ENTRY_MISSING
 * - entry bytes that no longer hash to the stored leaf hash      → LEDGER_LEAF_HASH_MISMATCH
 * - entry bytes that are not a canonical, valid record           → LEDGER_ENTRY_INVALID / _NOT_CANONICAL
 * - a break in the prev-hash chain, blamed on the right entry:
 *     prev names another stored leaf (moved/swapped row)         → LEDGER_ENTRY_OUT_OF_ORDER at i
 *     entry i's own prev was altered (its successor still links) → LEDGER_CHAIN_BROKEN at i
 *     entry i-1 was rewritten and its leaf hash recomputed       → LEDGER_ENTRY_REWRITTEN at i-1
 *   (each entry's prev is the witness, written when it was appended, of its predecessor's leaf hash)
 * - a stored interior node that differs from the recomputed one  → LEDGER_NODE_MISMATCH (first leaf under it)
 * - conversion record hashes that no longer match records.root   → LEDGER_RECORDS_ROOT_MISMATCH
 * - a recomputed root that differs from a signed checkpoint      → LEDGER_ROOT_MISMATCH (first index after the
 *   last checkpoint that still matched: the earliest leaf that can be wrong)
 * - a checkpoint row whose note does not verify or says another size/root → LEDGER_CHECKPOINT_* (index null)
 *
 * Every stored checkpoint is checked: its note's signature by the log key, its text against its row, and
 * its root against the root recomputed at its size — so each is consistent with every other and with the
 * entries. The latest one is verified through `verify/checkpoint.ts` (the function the browser and the
 * CLI use); the others through node:crypto (`native-checkpoint-check.ts`), one verification each, or
 * skipped with `{ signatures: "latest" }` (their roots are still compared). Everything is streamed: memory
 * and stack stay O(log n) whatever the log's size or number of checkpoints.
 */
import { decodeEntry } from "./entry/canonical-entry.js";
import { GENESIS_PREV, type OperationRecord } from "./entry/operation-record.js";
import { assertRecordsCommitment } from "./entry/records-commitment.js";
import { LedgerError, type LedgerErrorCode } from "./errors.js";
import type { LogStorage, StoredCheckpoint, StoredEntry, StoredNode } from "./log-storage.js";
import { checkpointChecker } from "./native-checkpoint-check.js";
import { nodeHasher } from "./node-hasher.js";
import { openCheckpoint, parseCheckpoint, type Checkpoint } from "./verify/checkpoint.js";
import { parseSignedNote } from "./verify/signed-note.js";
import { CompactRange } from "./verify/compact-range.js";
import { bytesEqual, fromHex, toHex } from "./verify/encoding.js";
import type { TreeHasher } from "./verify/hash.js";
import type { VerifierKey } from "./verify/verifier-key.js";

/** Outcome of fsck. */
export type FsckResult =
  | {
      readonly ok: true;
      readonly size: number;
      readonly signedSize: number;
      readonly root: string;
      /** Entries appended after the latest signed checkpoint (e.g. a crash before signing). */
      readonly unsignedEntries: number;
      /** Stored checkpoints checked, and how many of their signatures were verified. */
      readonly checkpoints: number;
      readonly signaturesVerified: number;
    }
  | {
      readonly ok: false;
      readonly code: LedgerErrorCode;
      /** First index that is bad or may be bad; null when no entry is at fault (a checkpoint is). */
      readonly firstBadIndex: number | null;
      readonly message: string;
      readonly context: Readonly<Record<string, unknown>>;
    };

/** Options of {@link fsck}. */
export interface FsckOptions {
  /** Verify every stored checkpoint's signature ("all", the default) or only the latest one's. */
  readonly signatures?: "all" | "latest";
  readonly hasher?: TreeHasher;
}

class Failure extends Error {
  constructor(
    readonly code: LedgerErrorCode,
    readonly index: number | null,
    message: string,
    readonly context: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Checks a log replica end to end against its signed checkpoints. */
export function fsck(storage: LogStorage, logKey: VerifierKey, options: FsckOptions = {}): FsckResult {
  try {
    // One snapshot for all the scans, so a node appending meanwhile cannot make them disagree.
    return storage.readSnapshot !== undefined
      ? storage.readSnapshot(() => run(storage, logKey, options))
      : run(storage, logKey, options);
  } catch (error) {
    if (error instanceof Failure) {
      return {
        ok: false,
        code: error.code,
        firstBadIndex: error.index,
        message: error.message,
        context: error.context,
      };
    }
    if (error instanceof LedgerError) {
      return {
        ok: false,
        code: error.code,
        firstBadIndex: null,
        message: error.message,
        context: error.context,
      };
    }
    throw error;
  }
}

function run(storage: LogStorage, logKey: VerifierKey, options: FsckOptions): FsckResult {
  const latestRow = storage.latestCheckpoint();
  if (latestRow === null)
    throw new Failure("LEDGER_CHECKPOINT_MISSING", null, "署名済みチェックポイントがありません");
  assertRowMatches(latestRow, openCheckpoint(latestRow.note, logKey).checkpoint);
  const rows = storage.scanCheckpoints()[Symbol.iterator]();
  const entries = storage.scanEntries()[Symbol.iterator]();
  const nodes = storage.scanNodes()[Symbol.iterator]();
  try {
    const checker = options.signatures === "latest" ? null : checkpointChecker(logKey);
    const checkpoints = new CheckpointCursor(rows, latestRow.size, checker);
    return scan(storage, checkpoints, entries, nodes, options.hasher ?? nodeHasher);
  } finally {
    // Release the storage cursors even when a failure stops the scan early.
    entries.return?.();
    nodes.return?.();
    rows.return?.();
  }
}

/** The stored checkpoints in size order, each checked as it is reached. */
class CheckpointCursor {
  readonly #rows: Iterator<StoredCheckpoint>;
  readonly #latestSize: number;
  readonly #check: ((note: string) => Checkpoint) | null;
  #next: StoredCheckpoint | undefined;
  count = 0;
  verified = 1;

  constructor(
    rows: Iterator<StoredCheckpoint>,
    latestSize: number,
    check: ((note: string) => Checkpoint) | null,
  ) {
    this.#rows = rows;
    this.#latestSize = latestSize;
    this.#check = check;
    this.#advance();
  }

  get latestSize(): number {
    return this.#latestSize;
  }

  /** The next checkpoint's size, or null when none is left. */
  get nextSize(): number | null {
    return this.#next?.size ?? null;
  }

  /** Takes the next checkpoint (its size is `nextSize`) and returns its root. */
  take(): Uint8Array {
    const row = this.#next as StoredCheckpoint;
    this.#advance();
    return row.root;
  }

  #advance(): void {
    const step = this.#rows.next();
    this.#next = step.done === true ? undefined : step.value;
    if (this.#next === undefined) return;
    this.count++;
    // The latest was verified through openCheckpoint already.
    if (this.#check !== null && this.#next.size !== this.#latestSize) {
      assertRowMatches(this.#next, this.#check(this.#next.note));
      this.verified++;
    } else {
      assertRowMatches(this.#next, parseCheckpoint(parseSignedNote(this.#next.note).text));
    }
  }
}

function assertRowMatches(row: StoredCheckpoint, checkpoint: Checkpoint): void {
  if (checkpoint.size !== row.size || !bytesEqual(checkpoint.root, row.root)) {
    throw new Failure(
      "LEDGER_CHECKPOINT_MALFORMED",
      null,
      "チェックポイントの列が署名された本文と一致しません",
      { size: row.size },
    );
  }
}

function scan(
  storage: LogStorage,
  checkpoints: CheckpointCursor,
  entries: Iterator<StoredEntry>,
  nodes: Iterator<StoredNode>,
  hasher: TreeHasher,
): FsckResult {
  const latest = checkpoints.latestSize;
  const range = new CompactRange(hasher);
  let lastGoodCheckpoint = 0;
  let prevLeaf: Uint8Array | null = null;
  // A node or root mismatch says "something under here changed"; the prev link of the entry after the
  // range may still name exactly which entry, so such a failure waits one entry for chain evidence.
  let deferred = null as { failure: Failure; from: number; until: number } | null;
  while (checkpoints.nextSize === 0) {
    if (!bytesEqual(checkpoints.take(), range.root())) {
      throw new Failure("LEDGER_ROOT_MISMATCH", 0, "空の木のチェックポイントの根ハッシュが正しくありません", {
        checkpointSize: 0,
      });
    }
  }
  let next = entries.next();

  for (let i = 0; !next.done; i++) {
    const current: StoredEntry = next.value;
    next = entries.next();
    if (deferred !== null && i > deferred.until) throw deferred.failure;
    if (current.index !== i) throw new Failure("LEDGER_ENTRY_MISSING", i, `エントリ #${i} がありません`);
    const leaf = hasher.hashLeaf(current.entry);
    if (!bytesEqual(leaf, current.leafHash)) {
      throw new Failure("LEDGER_LEAF_HASH_MISMATCH", i, `エントリ #${i} の内容が葉ハッシュと一致しません`);
    }
    const record = decodeAt(current.entry, i);
    const expectedPrev = prevLeaf === null ? GENESIS_PREV : toHex(prevLeaf);
    if (record.prev !== expectedPrev) {
      const chainFailure = blameChainBreak(
        storage,
        record,
        i,
        leaf,
        next.done === true ? null : next.value.entry,
      );
      const at = chainFailure.index ?? 0;
      if (deferred === null || (at >= deferred.from && at <= deferred.until)) throw chainFailure;
      throw deferred.failure;
    }
    if (record.type === "conversion") {
      try {
        assertRecordsCommitment(storage.recordHashes(i), record.records);
      } catch (error) {
        throw new Failure(
          "LEDGER_RECORDS_ROOT_MISMATCH",
          i,
          `エントリ #${i} のレコードハッシュが根と一致しません`,
          {
            cause: (error as LedgerError).code,
          },
        );
      }
    }
    for (const completed of range.append(leaf)) {
      const stored = nodes.next();
      const value: StoredNode | undefined = stored.done === true ? undefined : stored.value;
      const first = completed.index * 2 ** completed.level;
      if (
        deferred === null &&
        (value === undefined ||
          value.level !== completed.level ||
          value.index !== completed.index ||
          !bytesEqual(value.hash, completed.hash))
      ) {
        const failure = new Failure(
          "LEDGER_NODE_MISMATCH",
          first,
          `木のノード (高さ ${completed.level}) が再計算と一致しません`,
          { level: completed.level, index: completed.index },
        );
        deferred = { failure, from: first, until: i + 1 };
      }
    }
    if (checkpoints.nextSize === i + 1) {
      if (bytesEqual(range.root(), checkpoints.take())) {
        lastGoodCheckpoint = i + 1;
      } else {
        const failure = new Failure(
          "LEDGER_ROOT_MISMATCH",
          lastGoodCheckpoint,
          "再計算した根ハッシュが署名済みチェックポイントと一致しません",
          { checkpointSize: i + 1, lastMatchingSize: lastGoodCheckpoint },
        );
        deferred ??= { failure, from: lastGoodCheckpoint, until: i + 1 };
      }
    }
    prevLeaf = leaf;
  }
  if (deferred !== null) throw deferred.failure;
  const size = range.size;
  if (size < latest)
    throw new Failure("LEDGER_ENTRY_MISSING", size, `エントリ #${size} 以降がありません`, {
      signedSize: latest,
    });
  if (nodes.next().done !== true) {
    throw new Failure("LEDGER_EXTRA_ROWS", null, "エントリに対応しない木のノードが保存されています");
  }
  return {
    ok: true,
    size,
    signedSize: latest,
    root: toHex(range.root()),
    unsignedEntries: size - latest,
    checkpoints: checkpoints.count,
    signaturesVerified: checkpoints.verified,
  };
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

/** Decides which side of a broken prev link changed (see the file comment). */
function blameChainBreak(
  storage: LogStorage,
  record: OperationRecord,
  i: number,
  leaf: Uint8Array,
  nextEntry: Uint8Array | null,
): Failure {
  const named = record.prev === GENESIS_PREV ? [] : storage.findByLeafHash(fromHex(record.prev));
  if (named.some((j) => j !== i - 1)) {
    return new Failure(
      "LEDGER_ENTRY_OUT_OF_ORDER",
      i,
      `エントリ #${i} は別の位置のエントリの次に書かれたものです`,
      {
        prevAt: named,
      },
    );
  }
  const successorLinks = nextEntry === null || decodeSafely(nextEntry)?.prev === toHex(leaf);
  if (!successorLinks || i === 0) {
    return new Failure("LEDGER_CHAIN_BROKEN", i, `エントリ #${i} の prev が前のエントリと一致しません`);
  }
  return new Failure(
    "LEDGER_ENTRY_REWRITTEN",
    i - 1,
    `エントリ #${i - 1} が書き換えられています (次のエントリの prev と不一致)`,
  );
}

function decodeSafely(bytes: Uint8Array): OperationRecord | null {
  try {
    return decodeEntry(bytes);
  } catch {
    return null;
  }
}
