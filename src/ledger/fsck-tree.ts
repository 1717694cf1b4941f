/**
 * fsck's tree checks: the leaf hashes (from `fsck-entries.ts`, in index order) are folded into a compact
 * range; every interior node that completes is compared with the stored one, and at every stored
 * checkpoint's size the recomputed root with the checkpoint's. The stored checkpoints are streamed in
 * size order beside the leaves, each checked as it is reached (`CheckpointCursor`).
 *
 * A node or root mismatch says "something under here changed"; the prev link of the entry after the
 * range may still name exactly which entry, so such a failure waits one entry for chain evidence
 * (`beforeEntry`, `chainBroken`).
 */
import { Failure } from "./fsck-failure.js";
import type { StoredCheckpoint, StoredNode } from "./log-storage.js";
import { parseCheckpoint, type Checkpoint } from "./verify/checkpoint.js";
import { CompactRange } from "./verify/compact-range.js";
import { bytesEqual, toHex } from "./verify/encoding.js";
import type { TreeHasher } from "./verify/hash.js";
import { parseSignedNote } from "./verify/signed-note.js";

/** The stored checkpoints in size order, each checked as it is reached. */
export class CheckpointCursor {
  readonly #rows: Iterator<StoredCheckpoint>;
  readonly #latestSize: number;
  readonly #check: ((note: string) => Checkpoint) | null;
  #next: StoredCheckpoint | undefined;
  count = 0;
  verified = 1;

  /**
   * @param latestSize the latest checkpoint's size (already verified by the caller)
   * @param check verifies and parses a note, or null to only parse the others
   */
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

/** A checkpoint row must say what its signed note says. */
export function assertRowMatches(row: StoredCheckpoint, checkpoint: Checkpoint): void {
  if (checkpoint.size !== row.size || !bytesEqual(checkpoint.root, row.root)) {
    throw new Failure(
      "LEDGER_CHECKPOINT_MALFORMED",
      null,
      "チェックポイントの列が署名された本文と一致しません",
      { size: row.size },
    );
  }
}

/** What a whole log's check found, when it found no damage. */
export interface TreeSummary {
  readonly size: number;
  readonly signedSize: number;
  readonly root: string;
  readonly checkpoints: number;
  readonly signaturesVerified: number;
}

/** Folds leaf hashes in index order, checking stored nodes and checkpoints as they complete. */
export class TreeChecker {
  readonly #checkpoints: CheckpointCursor;
  readonly #nodes: Iterator<StoredNode>;
  readonly #range: CompactRange;
  #lastGoodCheckpoint = 0;
  #deferred: { failure: Failure; from: number; until: number } | null = null;

  constructor(checkpoints: CheckpointCursor, nodes: Iterator<StoredNode>, hasher: TreeHasher) {
    this.#checkpoints = checkpoints;
    this.#nodes = nodes;
    this.#range = new CompactRange(hasher);
    while (checkpoints.nextSize === 0) {
      if (!bytesEqual(checkpoints.take(), this.#range.root())) {
        throw new Failure(
          "LEDGER_ROOT_MISMATCH",
          0,
          "空の木のチェックポイントの根ハッシュが正しくありません",
          { checkpointSize: 0 },
        );
      }
    }
  }

  /** Before entry `i` is checked: a pending mismatch that entry `i` can no longer explain is thrown. */
  beforeEntry(i: number): void {
    if (this.#deferred !== null && i > this.#deferred.until) throw this.#deferred.failure;
  }

  /** Entry checks found a broken prev link: it wins unless a pending mismatch points elsewhere. */
  chainBroken(failure: Failure): never {
    const at = failure.index ?? 0;
    const deferred = this.#deferred;
    if (deferred === null || (at >= deferred.from && at <= deferred.until)) throw failure;
    throw deferred.failure;
  }

  /** Adds the leaf hash of entry `i` (= the current size). */
  leaf(i: number, leaf: Uint8Array): void {
    for (const completed of this.#range.append(leaf)) {
      const stored = this.#nodes.next();
      const value: StoredNode | undefined = stored.done === true ? undefined : stored.value;
      const first = completed.index * 2 ** completed.level;
      if (
        this.#deferred === null &&
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
        this.#deferred = { failure, from: first, until: i + 1 };
      }
    }
    const checkpoints = this.#checkpoints;
    if (checkpoints.nextSize === i + 1) {
      if (bytesEqual(this.#range.root(), checkpoints.take())) {
        this.#lastGoodCheckpoint = i + 1;
      } else {
        const failure = new Failure(
          "LEDGER_ROOT_MISMATCH",
          this.#lastGoodCheckpoint,
          "再計算した根ハッシュが署名済みチェックポイントと一致しません",
          { checkpointSize: i + 1, lastMatchingSize: this.#lastGoodCheckpoint },
        );
        this.#deferred ??= { failure, from: this.#lastGoodCheckpoint, until: i + 1 };
      }
    }
  }

  /** After the last entry: anything pending, missing entries or extra node rows, else the summary. */
  finish(): TreeSummary {
    if (this.#deferred !== null) throw this.#deferred.failure;
    const size = this.#range.size;
    const latest = this.#checkpoints.latestSize;
    if (size < latest)
      throw new Failure("LEDGER_ENTRY_MISSING", size, `エントリ #${size} 以降がありません`, {
        signedSize: latest,
      });
    if (this.#nodes.next().done !== true) {
      throw new Failure("LEDGER_EXTRA_ROWS", null, "エントリに対応しない木のノードが保存されています");
    }
    return {
      size,
      signedSize: latest,
      root: toHex(this.#range.root()),
      checkpoints: this.#checkpoints.count,
      signaturesVerified: this.#checkpoints.verified,
    };
  }
}
