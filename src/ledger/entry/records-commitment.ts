/**
 * The commitment a conversion entry makes to its records: an RFC 6962 tree whose leaves are the records'
 * SHA-256 hashes (leaf hash = SHA-256(0x00 ‖ record hash)), so one record gets a two-level proof: record in
 * file (this tree), entry in log. Record hashes are those of `format/hash.ts` (`recordHashesOf`).
 */
import { LedgerError } from "../errors.js";
import { MemoryTree } from "../memory-tree.js";
import { CompactRange } from "../verify/compact-range.js";
import { fromHex, toHex } from "../verify/encoding.js";
import { assertHashSize, rfc6962Hasher } from "../verify/hash.js";

/** Count and root hex as stored in a conversion record's `records` field. */
export interface RecordsCommitment {
  readonly count: number;
  readonly root: string;
}

/**
 * Record hashes as a conversion hands them over: hex strings or byte arrays, one per record, or all the
 * digests packed 32 bytes each in one array (what the engine keeps: a million records are 32 MB there,
 * against ~90 MB as hex strings and more as a million small arrays).
 */
export type RecordHashList = readonly (string | Uint8Array)[] | Uint8Array;

const HASH_BYTES = 32;

/** Number of record hashes in a list. */
export function recordHashCount(list: RecordHashList): number {
  return list instanceof Uint8Array ? Math.floor(list.length / HASH_BYTES) : list.length;
}

/**
 * The list packed 32 bytes per hash (the packed form itself when given one).
 * @throws LedgerError when a hash is not 32 bytes (or 64 hex digits), or packed bytes are not whole hashes
 */
export function packRecordHashes(list: RecordHashList): Uint8Array {
  if (list instanceof Uint8Array) {
    if (list.length % HASH_BYTES !== 0)
      assertHashSize(list.subarray(list.length - (list.length % HASH_BYTES)), "record hash");
    return list;
  }
  const packed = new Uint8Array(list.length * HASH_BYTES);
  list.forEach((h, i) => {
    const bytes = typeof h === "string" ? fromHex(h, `record hash ${i}`) : h;
    assertHashSize(bytes, `record hash ${i}`);
    packed.set(bytes, i * HASH_BYTES);
  });
  return packed;
}

/** Builds the tree over record hashes (hex or bytes), for proofs. */
export function recordTree(recordHashes: readonly (string | Uint8Array)[]): MemoryTree {
  const leaves = recordHashes.map((h, i) => {
    const bytes = typeof h === "string" ? fromHex(h, `record hash ${i}`) : h;
    assertHashSize(bytes, `record hash ${i}`);
    return rfc6962Hasher.hashLeaf(bytes);
  });
  return new MemoryTree(leaves);
}

/**
 * The commitment for a list of record hashes, computed as the leaves go by (a compact range: O(log n)
 * memory, no tree held; the same root as {@link recordTree}).
 */
export function recordsCommitment(recordHashes: RecordHashList): RecordsCommitment {
  const range = new CompactRange(rfc6962Hasher);
  if (recordHashes instanceof Uint8Array) {
    const packed = packRecordHashes(recordHashes);
    for (let at = 0; at < packed.length; at += HASH_BYTES)
      range.append(rfc6962Hasher.hashLeaf(packed.subarray(at, at + HASH_BYTES)));
  } else {
    recordHashes.forEach((h, i) => {
      const bytes = typeof h === "string" ? fromHex(h, `record hash ${i}`) : h;
      assertHashSize(bytes, `record hash ${i}`);
      range.append(rfc6962Hasher.hashLeaf(bytes));
    });
  }
  return { count: range.size, root: toHex(range.root()) };
}

/**
 * Checks that record hashes match a conversion record's commitment.
 * @throws LedgerError LEDGER_RECORDS_ROOT_MISMATCH
 */
export function assertRecordsCommitment(recordHashes: RecordHashList, expected: RecordsCommitment): void {
  const actual = recordsCommitment(recordHashes);
  if (actual.count !== expected.count || actual.root !== expected.root) {
    throw new LedgerError(
      "LEDGER_RECORDS_ROOT_MISMATCH",
      "レコードハッシュが変換記録の根ハッシュと一致しません",
      {
        expected,
        actual,
      },
    );
  }
}
