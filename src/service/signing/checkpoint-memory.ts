/**
 * The node's memory of its ledger, kept outside ledger.db: the last signed checkpoint it verified, in
 * `ledger-head.note` (the signed note as the ledger stores it). A ledger.db swapped for an older valid
 * copy, or cut back by deleting its newest entries and checkpoints, passes fsck on its own — it is a
 * consistent log, just a shorter one. Compared with this memory it is not: the current signed
 * checkpoint must be the remembered one or grow from it (RFC 9162 §2.1.4 consistency proof), checked at
 * start and before every operation's ledger check.
 *
 * Written temp file → fsync → rename, so a crash leaves the old memory or the new one. The memory
 * only moves forward (a checkpoint is remembered only once it verified as consistent with the old one),
 * except when `kenshin backup restore` deliberately takes the ledger back and records that it did.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { isCodedError } from "../../coded-error.js";
import type { ConsistencyProofJson } from "../../ledger/ledger.js";
import { openCheckpoint, type Checkpoint } from "../../ledger/verify/checkpoint.js";
import { verifyConsistency } from "../../ledger/verify/consistency.js";
import { bytesEqual, fromHex } from "../../ledger/verify/encoding.js";
import { parseVerifierKey } from "../../ledger/verify/verifier-key.js";
import { audit, recordCommon } from "../audit/audit.js";
import { systemActor, type ServiceContext } from "../context.js";
import type { DataPaths } from "../data-dir.js";
import { ServiceError } from "../errors.js";

export function checkpointMemoryPath(paths: Pick<DataPaths, "dir">): string {
  return join(paths.dir, "ledger-head.note");
}

function readMemory(paths: Pick<DataPaths, "dir">): string | undefined {
  try {
    const text = readFileSync(checkpointMemoryPath(paths), "utf8");
    return text.length > 0 ? text : undefined;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw rolledBack("unreadable", {}, cause);
  }
}

function rolledBack(why: string, context: Record<string, unknown>, cause?: unknown): ServiceError {
  return new ServiceError(
    "INTEGRITY_FAILURE",
    "台帳が以前に確認した状態より古くなっています (巻き戻しまたは削除)。事務局に連絡してください",
    { reason: "ledger-rollback", why, ...context },
    cause !== undefined ? { cause } : {},
  );
}

/**
 * Checks that the ledger has not gone back from the remembered checkpoint. Returns the current signed
 * checkpoint's note (verified as consistent with the memory), or undefined when nothing is remembered.
 * @throws ServiceError INTEGRITY_FAILURE (context.reason "ledger-rollback")
 */
export function checkLedgerNotRolledBack(ctx: ServiceContext): string | undefined {
  return ledgerAgainstMemory(ctx).note;
}

/**
 * {@link checkLedgerNotRolledBack} with the memory it compared with, so a caller that remembers the
 * current note afterwards writes (and reads) the memory file only when the note is a new one.
 * @throws ServiceError INTEGRITY_FAILURE (context.reason "ledger-rollback")
 */
export function ledgerAgainstMemory(ctx: ServiceContext): { note?: string; remembered?: string } {
  const remembered = readMemory(ctx.paths);
  if (remembered === undefined) return {};
  return { note: compareWithRemembered(ctx.ledger, ctx.verifierKey, remembered), remembered };
}

/** What the comparison reads of a ledger: the read port of a node, or a `Ledger` opened by the CLI. */
export interface RememberedComparable {
  latestCheckpoint(): { readonly note: string };
  consistencyProof(from: number, to: number): ConsistencyProofJson;
}

/**
 * The comparison itself, for any ledger (also `kenshin ledger fsck --remembered`): the latest signed
 * checkpoint is the remembered one, or a consistent extension of it. Returns the latest note.
 * @throws ServiceError INTEGRITY_FAILURE (context.reason "ledger-rollback")
 */
export function compareWithRemembered(
  ledger: RememberedComparable,
  verifierKey: string,
  remembered: string,
): string {
  try {
    const old = openedCheckpoint(remembered, verifierKey);
    const note = ledger.latestCheckpoint().note;
    const current = openedCheckpoint(note, verifierKey);
    if (current.size < old.size) throw rolledBack("smaller", { remembered: old.size, current: current.size });
    if (current.size === old.size) {
      if (!bytesEqual(current.root, old.root)) throw rolledBack("other root", { size: old.size });
      return note;
    }
    const proof = ledger.consistencyProof(old.size, current.size).proof.map((h) => fromHex(h));
    verifyConsistency({ size1: old.size, size2: current.size, root1: old.root, root2: current.root, proof });
    return note;
  } catch (error) {
    if (error instanceof ServiceError) throw error;
    throw rolledBack(isCodedError(error) ? error.code : "unverifiable", {}, error);
  }
}

/** Signed notes whose signature verified, per verifier key (FIFO-bounded: checkpoints move on). */
const OPENED_KEPT = 16;
const opened = new Map<string, Checkpoint>();

/**
 * The checkpoint of a signed note, its signature checked with `verifierKey` — once per (key, note): the
 * check is a pure function of the two, and before every operation's ledger check it was two pure-JS
 * Ed25519 verifications (the remembered note and the current one, usually the same), the largest cost
 * of a trail read in bench/server. A note that fails is not kept and fails again on the next call.
 */
function openedCheckpoint(note: string, verifierKey: string): Checkpoint {
  const id = `${verifierKey}\n${note}`;
  const known = opened.get(id);
  if (known !== undefined) return known;
  const { checkpoint } = openCheckpoint(note, parseVerifierKey(verifierKey));
  if (opened.size >= OPENED_KEPT) {
    const oldest = opened.keys().next();
    if (oldest.done !== true) opened.delete(oldest.value);
  }
  opened.set(id, checkpoint);
  return checkpoint;
}

/** Remembers a signed checkpoint note (the caller verified it as consistent with the memory). */
export function rememberCheckpoint(paths: Pick<DataPaths, "dir">, note: string): void {
  if (readMemory(paths) === note) return;
  const path = checkpointMemoryPath(paths);
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, note);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/**
 * At start: compares the ledger with the memory (first start: remembers the current checkpoint). A
 * rollback is recorded as an alarm entry where the ledger still takes one, and refuses the start.
 * @throws ServiceError INTEGRITY_FAILURE
 */
export async function checkLedgerAtStart(ctx: ServiceContext): Promise<void> {
  let note: string;
  try {
    const checked = checkLedgerNotRolledBack(ctx);
    // A new cluster member builds its ledger from the command log: before a first checkpoint is
    // published there is nothing to remember (the memory is written with the first one it serves).
    if (checked === undefined && ctx.cluster !== undefined && !hasCheckpoint(ctx)) return;
    note = checked ?? ctx.ledger.latestCheckpoint().note;
  } catch (error) {
    const failure = error instanceof ServiceError ? error : rolledBack("no checkpoint", {}, error);
    await audit(ctx, [
      {
        ...recordCommon(ctx, systemActor("integrity-check"), "major-failure", `at start: ${failure.message}`),
        type: "denial",
        action: "integrity",
        code: "INTEGRITY_FAILURE",
      },
    ]).catch(() => undefined);
    throw failure;
  }
  rememberCheckpoint(ctx.paths, note);
}

function hasCheckpoint(ctx: ServiceContext): boolean {
  try {
    ctx.ledger.latestCheckpoint();
    return true;
  } catch {
    return false;
  }
}

/** The rollback error when the ledger has gone back from the memory now, else undefined (never throws). */
export function ledgerRollbackBehind(ctx: ServiceContext): ServiceError | undefined {
  try {
    checkLedgerNotRolledBack(ctx);
    return undefined;
  } catch (error) {
    return error instanceof ServiceError ? error : rolledBack("unverifiable", {}, error);
  }
}
