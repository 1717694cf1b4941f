/**
 * The checks of one stored entry against what can be derived from its own bytes — shared by the watch
 * over new entries (before cosigning) and the rolling full check:
 *
 * - the bytes re-hash (RFC 9162 leaf hash) to the stored leaf hash;
 * - they are the canonical form of a valid record (RFC 8785), whose `prev` is the previous entry's
 *   recomputed leaf hash (the chain);
 * - every lookup key derived from the record (`lookup-keys.ts`, the function the sequencer indexes
 *   with) has its `entry_keys` row, so deleting a transfer's rows cannot make its segment check pass
 *   with zero entries;
 * - a conversion entry's stored record hashes still give the records root it commits to.
 */
import { decodeEntry } from "../../ledger/entry/canonical-entry.js";
import { lookupKeys } from "../../ledger/entry/lookup-keys.js";
import { GENESIS_PREV, type OperationRecord } from "../../ledger/entry/operation-record.js";
import { assertRecordsCommitment } from "../../ledger/entry/records-commitment.js";
import { isCodedError } from "../../coded-error.js";
import type { LogStorage, StoredEntry } from "../../ledger/log-storage.js";
import { bytesEqual, toHex } from "../../ledger/verify/encoding.js";
import type { TreeHasher } from "../../ledger/verify/hash.js";
import type { Finding } from "./finding.js";

export interface CheckedEntry {
  /** Leaf hash recomputed from the stored bytes (what the tree must be built from). */
  readonly leaf: Uint8Array;
  readonly record: OperationRecord | undefined;
  readonly findings: readonly Finding[];
}

/** Reads entry `index`, or undefined when its row is gone. */
export function readEntry(storage: LogStorage, index: number): StoredEntry | undefined {
  try {
    return storage.entry(index);
  } catch (error) {
    if (isCodedError(error) && error.code === "LEDGER_NOT_FOUND") return undefined;
    throw error;
  }
}

/**
 * Checks one stored entry. `prevLeaf` is the recomputed leaf hash of entry `index - 1` (undefined for
 * index 0).
 */
export function checkEntry(
  storage: LogStorage,
  hasher: TreeHasher,
  stored: StoredEntry,
  prevLeaf: Uint8Array | undefined,
): CheckedEntry {
  const index = stored.index;
  const findings: Finding[] = [];
  const leaf = hasher.hashLeaf(stored.entry);
  if (!bytesEqual(leaf, stored.leafHash)) {
    findings.push({ kind: "entry", code: "LEDGER_LEAF_HASH_MISMATCH", index });
  }
  let record: OperationRecord | undefined;
  try {
    record = decodeEntry(stored.entry);
  } catch (error) {
    findings.push({ kind: "entry", code: isCodedError(error) ? error.code : "LEDGER_ENTRY_INVALID", index });
    return { leaf, record: undefined, findings };
  }
  const expectedPrev = prevLeaf === undefined ? GENESIS_PREV : toHex(prevLeaf);
  if (record.prev !== expectedPrev) findings.push({ kind: "entry", code: "LEDGER_CHAIN_BROKEN", index });
  for (const key of lookupKeys(record)) {
    // The newest row under `key` below index + 1 is this entry's exactly when the row exists: O(log n).
    if (storage.latestByKey(key, 1, index + 1)[0] !== index) {
      findings.push({
        kind: "index-keys",
        code: "CLUSTER_INTEGRITY_MISMATCH",
        index,
        field: key.slice(0, key.indexOf(":")),
        ...("transfer" in record && record.transfer !== undefined ? { transfer: record.transfer } : {}),
      });
    }
  }
  if (record.type === "conversion") {
    try {
      assertRecordsCommitment(storage.recordHashes(index), record.records);
    } catch {
      findings.push({
        kind: "record-hashes",
        code: "LEDGER_RECORDS_ROOT_MISMATCH",
        index,
        transfer: record.transfer,
      });
    }
  }
  return { leaf, record, findings };
}
