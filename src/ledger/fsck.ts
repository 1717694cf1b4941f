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
 *
 * The entry checks are `fsck-entries.ts`, the tree and checkpoint checks `fsck-tree.ts`; this file runs
 * them side by side over one read snapshot. `store/sqlite-log-fsck.ts` runs the same two over a log file
 * with the entries checked in pages by worker threads, and gives the same result.
 */
import { LedgerError, type LedgerErrorCode } from "./errors.js";
import { EntryChecker } from "./fsck-entries.js";
import { Failure } from "./fsck-failure.js";
import { CheckpointCursor, TreeChecker, assertRowMatches, type TreeSummary } from "./fsck-tree.js";
import type { LogStorage, StoredEntry } from "./log-storage.js";
import { checkpointChecker } from "./native-checkpoint-check.js";
import { nodeHasher } from "./node-hasher.js";
import { openCheckpoint } from "./verify/checkpoint.js";
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

/** Checks a log replica end to end against its signed checkpoints. */
export function fsck(storage: LogStorage, logKey: VerifierKey, options: FsckOptions = {}): FsckResult {
  return asResult(() =>
    // One snapshot for all the scans, so a node appending meanwhile cannot make them disagree.
    storage.readSnapshot !== undefined
      ? storage.readSnapshot(() => run(storage, logKey, options))
      : run(storage, logKey, options),
  );
}

/** Runs a check, turning the damage it finds into a result (other errors propagate). */
export function asResult(check: () => FsckResult): FsckResult {
  try {
    return check();
  } catch (error) {
    if (error instanceof Failure || error instanceof LedgerError) return failed(error);
    throw error;
  }
}

/** Same, for a check that runs asynchronously (worker threads). */
export async function asResultAsync(check: () => Promise<FsckResult>): Promise<FsckResult> {
  try {
    return await check();
  } catch (error) {
    if (error instanceof Failure || error instanceof LedgerError) return failed(error);
    throw error;
  }
}

function failed(error: Failure | LedgerError): FsckResult {
  return {
    ok: false,
    code: error.code,
    firstBadIndex: error instanceof Failure ? error.index : null,
    message: error.message,
    context: error.context,
  };
}

/**
 * The first steps of every fsck: the latest checkpoint verified through `verify/checkpoint.ts`, then the
 * tree checker over the stored checkpoints and nodes. `done` releases the storage cursors.
 */
export function startTreeCheck(
  storage: LogStorage,
  logKey: VerifierKey,
  options: FsckOptions,
): { readonly tree: TreeChecker; readonly done: () => void } {
  const latestRow = storage.latestCheckpoint();
  if (latestRow === null)
    throw new Failure("LEDGER_CHECKPOINT_MISSING", null, "署名済みチェックポイントがありません");
  assertRowMatches(latestRow, openCheckpoint(latestRow.note, logKey).checkpoint);
  const rows = storage.scanCheckpoints()[Symbol.iterator]();
  const nodes = storage.scanNodes()[Symbol.iterator]();
  const done = (): void => {
    nodes.return?.();
    rows.return?.();
  };
  try {
    const checker = options.signatures === "latest" ? null : checkpointChecker(logKey);
    const checkpoints = new CheckpointCursor(rows, latestRow.size, checker);
    return { tree: new TreeChecker(checkpoints, nodes, options.hasher ?? nodeHasher), done };
  } catch (error) {
    done();
    throw error;
  }
}

/** The result of a check that found no damage. */
export function intact(summary: TreeSummary): FsckResult {
  return { ok: true, ...summary, unsignedEntries: summary.size - summary.signedSize };
}

function run(storage: LogStorage, logKey: VerifierKey, options: FsckOptions): FsckResult {
  const { tree, done } = startTreeCheck(storage, logKey, options);
  const entries = storage.scanEntries()[Symbol.iterator]();
  try {
    const checker = new EntryChecker(storage, options.hasher ?? nodeHasher);
    let next = entries.next();
    for (let i = 0; !next.done; i++) {
      const current: StoredEntry = next.value;
      next = entries.next();
      tree.beforeEntry(i);
      tree.leaf(i, checkEntry(tree, checker, current, next.done === true ? undefined : next.value));
    }
    return intact(tree.finish());
  } finally {
    // Release the storage cursors even when a failure stops the scan early.
    entries.return?.();
    done();
  }
}

/** Checks one entry; a broken chain is weighed against what the tree has pending. */
export function checkEntry(
  tree: TreeChecker,
  checker: EntryChecker,
  current: StoredEntry,
  next: StoredEntry | undefined,
): Uint8Array {
  try {
    return checker.check(current, next);
  } catch (error) {
    if (error instanceof Failure && error.chain) tree.chainBroken(error);
    throw error;
  }
}
