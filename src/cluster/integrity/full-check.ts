/**
 * The rolling full check of a node's own copy, one pass over everything it holds:
 *
 * 1. fsck (`ledger/fsck.ts`): the whole tree recomputed, the chain, every stored node, every stored
 *    checkpoint's signature and its consistency with the entries;
 * 2. every entry again through `entry-checks.ts`, reporting *every* bad entry rather than the first,
 *    and every entry below the size this node applied (`appliedSize`) that is not there — the last rows
 *    too, which the stored size (MAX(idx) + 1) alone cannot tell from entries never written; the
 *    `entry_keys` table compared row for row with the keys derived from the entries (a deleted or an
 *    added row is caught);
 * 3. the root recomputed from the entry bytes at the size of the quorum-published checkpoint compared
 *    with its root — the only check that catches a consistent rewrite of leaf, stored hash, interior
 *    nodes and locally re-signed checkpoints, since the other nodes' cosignatures cannot be redone;
 * 4. every service.db transfer row against what its entries commit to (`transfer-projection.ts`), and
 *    every `transfer_damage` row against the alarm entry that committed it (`damage-rows.ts`);
 * 5. every payload chunk re-hashed against its content address.
 *
 * Synchronous (better-sqlite3); the result lists findings only (positions, codes, addresses).
 */
import type Database from "better-sqlite3";
import { lookupKeys } from "../../ledger/entry/lookup-keys.js";
import { fsck } from "../../ledger/fsck.js";
import type { LogStorage } from "../../ledger/log-storage.js";
import { nodeHasher } from "../../ledger/node-hasher.js";
import { CompactRange } from "../../ledger/verify/compact-range.js";
import { bytesEqual } from "../../ledger/verify/encoding.js";
import type { TreeHasher } from "../../ledger/verify/hash.js";
import type { Checkpoint } from "../../ledger/verify/checkpoint.js";
import type { VerifierKey } from "../../ledger/verify/verifier-key.js";
import { isCodedError } from "../../coded-error.js";
import type { ChunkStore } from "../../store/chunk-store.js";
import type { LogRepairAccess } from "../../store/sqlite-log-repair.js";
import { readTransferRow, scanTransferRows } from "../../store/transfer-rows.js";
import { decodeEntry } from "../../ledger/entry/canonical-entry.js";
import { checkDamageRows, DamageProjection } from "./damage-rows.js";
import { checkEntry, readEntry } from "./entry-checks.js";
import type { Finding, FindingKind } from "./finding.js";
import { differingColumns, TransferProjection } from "./transfer-projection.js";

export interface FullCheckInput {
  readonly storage: LogStorage;
  /** Raw access to the same ledger file (its index table). */
  readonly access: LogRepairAccess;
  readonly logKey: VerifierKey;
  /** The latest quorum-published checkpoint, already verified (openPublishedCheckpoint). */
  readonly published?: Pick<Checkpoint, "size" | "root"> | undefined;
  /**
   * True when the node keeps appending while this check reads (the check in a worker thread): index
   * rows past the last entry scanned are then entries appended since, read through the index's own
   * connection, not extra rows. (In the node's own thread nothing appends during the check.)
   */
  readonly concurrentAppends?: boolean;
  readonly serviceDb?: Database.Database | undefined;
  /**
   * How many entries the service.db rows reflect, when the caller read service.db in one read snapshot
   * taken before the ledger's (`cluster_position.ledger_size`; full-check-job.ts). A node commits a
   * batch's entries to ledger.db before its commands to service.db, so the rows are checked against the
   * entries below this size only — what is still being applied is no finding.
   */
  readonly stateSize?: number | undefined;
  /**
   * How many entries this node applied (`cluster_position.ledger_size`: `appliedLedgerSize`). The stored
   * size is MAX(idx) + 1, so a copy whose last entry rows were deleted just looks shorter; every index
   * below this size must be there (LEDGER_ENTRY_MISSING), and index rows below it are no appends made
   * since. Read in the same snapshot as `stateSize` (the worker) or in the node's own thread (nothing
   * is applied meanwhile); a ledger commits before service.db, so a healthy copy is never shorter.
   */
  readonly appliedSize?: number | undefined;
  readonly chunks?: ChunkStore | undefined;
  readonly hasher?: TreeHasher;
}

export interface FullCheckResult {
  readonly findings: readonly Finding[];
  /** Entries checked. */
  readonly size: number;
  readonly transfers: number;
  readonly chunks: number;
}

function kindOfFsckCode(code: string): FindingKind {
  if (code === "LEDGER_NODE_MISMATCH" || code === "LEDGER_EXTRA_ROWS") return "tree";
  if (code === "LEDGER_RECORDS_ROOT_MISMATCH") return "record-hashes";
  if (code.startsWith("LEDGER_CHECKPOINT") || code === "LEDGER_ROOT_MISMATCH") return "checkpoint";
  return "entry";
}

/** Runs every check once. */
export function runFullCheck(input: FullCheckInput): FullCheckResult {
  const hasher = input.hasher ?? nodeHasher;
  const findings: Finding[] = [];
  const fsckResult = fsck(input.storage, input.logKey, { hasher });
  // A follower's copy before its first published checkpoint has no checkpoint to check the tree against
  // (the entries themselves are still checked below); that is not damage.
  const beforeFirstCheckpoint =
    !fsckResult.ok && fsckResult.code === "LEDGER_CHECKPOINT_MISSING" && input.published === undefined;
  if (!fsckResult.ok && !beforeFirstCheckpoint) {
    findings.push({
      kind: kindOfFsckCode(fsckResult.code),
      code: fsckResult.code,
      ...(fsckResult.firstBadIndex !== null ? { index: fsckResult.firstBadIndex } : {}),
    });
  }
  const projection = new TransferProjection();
  const damage = new DamageProjection();
  const stateSize = input.stateSize ?? Number.POSITIVE_INFINITY;
  const range = new CompactRange(hasher);
  const keyRows = input.access.scanIndexKeys()[Symbol.iterator]();
  let keyRow = keyRows.next();
  let prevLeaf: Uint8Array | undefined;
  let expected = 0;
  let scanned = 0;
  try {
    for (const stored of input.storage.scanEntries()) {
      // A missing row: every index up to this one is a hole (the leaf is unknown).
      for (; expected < stored.index; expected++) {
        findings.push({ kind: "entry", code: "LEDGER_ENTRY_MISSING", index: expected });
      }
      expected = stored.index + 1;
      const checked = checkEntry(input.storage, hasher, stored, prevLeaf);
      // Index rows are compared exactly below; the per-entry probe would only repeat it.
      findings.push(...checked.findings.filter((f) => f.kind !== "index-keys"));
      prevLeaf = checked.leaf;
      if (range.size === stored.index) range.append(checked.leaf);
      const keys = new Set(checked.record === undefined ? [] : lookupKeys(checked.record));
      const have = new Set<string>();
      for (; !keyRow.done && keyRow.value.idx <= stored.index; keyRow = keyRows.next()) {
        if (keyRow.value.idx < stored.index) {
          findings.push({ kind: "index-keys", code: "CLUSTER_INTEGRITY_MISMATCH", index: keyRow.value.idx });
        } else have.add(keyRow.value.key);
      }
      const missing = [...keys].filter((k) => !have.has(k));
      const extra = [...have].filter((k) => !keys.has(k));
      if (missing.length > 0 || extra.length > 0) {
        const record = checked.record;
        findings.push({
          kind: "index-keys",
          code: "CLUSTER_INTEGRITY_MISMATCH",
          index: stored.index,
          field: missing.length > 0 ? "missing" : "extra",
          ...(record !== undefined && "transfer" in record && record.transfer !== undefined
            ? { transfer: record.transfer }
            : {}),
        });
      }
      if (checked.record !== undefined && stored.index < stateSize) {
        projection.apply(checked.record);
        damage.apply(checked.record, stored.index);
      }
      if (input.published !== undefined && range.size === input.published.size) {
        if (!bytesEqual(range.root(), input.published.root)) {
          findings.push({ kind: "published-root", code: "LEDGER_ROOT_MISMATCH" });
        }
      }
    }
    scanned = expected;
    // The missing tail: entries this node applied whose rows are gone (the stored size shrank with them).
    for (; expected < (input.appliedSize ?? 0); expected++) {
      findings.push({ kind: "entry", code: "LEDGER_ENTRY_MISSING", index: expected });
    }
    for (; !keyRow.done; keyRow = keyRows.next()) {
      // Past what was scanned and applied: entries appended since the snapshot began (worker thread).
      if (input.concurrentAppends === true && keyRow.value.idx >= expected) break;
      findings.push({ kind: "index-keys", code: "CLUSTER_INTEGRITY_MISMATCH", index: keyRow.value.idx });
    }
  } finally {
    keyRows.return?.();
  }
  if (input.serviceDb !== undefined) {
    const suspects = checkTransferRows(input.serviceDb, projection);
    // Rows and entries read at one consistent moment need no second look (it would read newer entries).
    findings.push(
      ...(input.stateSize !== undefined ? suspects : secondLook(input.storage, input.serviceDb, suspects)),
    );
    findings.push(...checkDamageRows(input.serviceDb, damage, Math.min(scanned, stateSize)));
  }
  let chunks = 0;
  if (input.chunks !== undefined) {
    for (const address of input.chunks.addresses()) {
      chunks++;
      try {
        input.chunks.get(address);
      } catch (error) {
        if (!isCodedError(error) || error.code !== "STORE_CHUNK_HASH_MISMATCH") throw error;
        findings.push({ kind: "chunk", code: error.code, address });
      }
    }
  }
  return { findings: dedupe(findings), size: scanned, transfers: projection.size, chunks };
}

/**
 * The entries a cluster node's service.db has applied (`cluster_position`, replicated-state.ts); inside
 * a caller's read transaction it starts the snapshot. Undefined when it is no cluster node's.
 */
export function appliedLedgerSize(db: Database.Database): number | undefined {
  const has =
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cluster_position'").get() !==
    undefined;
  if (!has) return undefined;
  return (
    db.prepare<[], { ledger_size: number }>("SELECT ledger_size FROM cluster_position WHERE id = 1").get()
      ?.ledger_size ?? 0
  );
}

function checkTransferRows(db: Database.Database, projection: TransferProjection): Finding[] {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const row of scanTransferRows(db)) {
    const id = String(row.id);
    seen.add(id);
    const expected = projection.get(id);
    if (expected === undefined) {
      findings.push({
        kind: "transfer-row",
        code: "CLUSTER_INTEGRITY_MISMATCH",
        transfer: id,
        field: "entries",
      });
      continue;
    }
    for (const field of differingColumns(row, expected)) {
      findings.push({ kind: "transfer-row", code: "CLUSTER_INTEGRITY_MISMATCH", transfer: id, field });
    }
  }
  for (const id of projection.ids()) {
    if (!seen.has(id)) {
      findings.push({ kind: "transfer-row", code: "CLUSTER_INTEGRITY_MISMATCH", transfer: id, field: "row" });
    }
  }
  return findings;
}

/**
 * The rows were read after the entries were scanned, so a transfer whose row and entries were committed
 * together in between looks like a mismatch. Each suspect is looked at again, row and entries read now
 * again, and reported only if it still differs (a real edit does; the next run looks once more).
 */
function secondLook(storage: LogStorage, db: Database.Database, suspects: readonly Finding[]): Finding[] {
  const ids = [...new Set(suspects.map((f) => f.transfer).filter((t) => t !== undefined))];
  const confirmed = new Set<string>();
  for (const id of ids) {
    const again = new TransferProjection();
    for (const index of storage.findByKey(`transfer:${id}`)) {
      const stored = readEntry(storage, index);
      if (stored === undefined) continue;
      try {
        again.apply(decodeEntry(stored.entry));
      } catch {
        continue;
      }
    }
    const row = readTransferRow(db, id);
    const expected = again.get(id);
    if (row === undefined || expected === undefined || differingColumns(row, expected).length > 0)
      confirmed.add(id);
  }
  return suspects.filter((f) => f.transfer !== undefined && confirmed.has(f.transfer));
}

function dedupe(findings: readonly Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = JSON.stringify([f.kind, f.code, f.index, f.transfer, f.address, f.field]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
