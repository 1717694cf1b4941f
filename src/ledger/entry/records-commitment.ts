/**
 * The commitment a conversion entry makes to its records: an RFC 6962 tree whose leaves are the records'
 * SHA-256 hashes (leaf hash = SHA-256(0x00 ‖ record hash)), so one record gets a two-level proof: record in
 * file (this tree), entry in log. Record hashes are those of `format/hash.ts` (`recordHashesOf`).
 */
import { LedgerError } from "../errors.js";
import { MemoryTree } from "../memory-tree.js";
import { fromHex, toHex } from "../verify/encoding.js";
import { assertHashSize, rfc6962Hasher } from "../verify/hash.js";

/** Count and root hex as stored in a conversion record's `records` field. */
export interface RecordsCommitment {
  readonly count: number;
  readonly root: string;
}

/** Builds the tree over record hashes (hex or bytes). */
export function recordTree(recordHashes: readonly (string | Uint8Array)[]): MemoryTree {
  const leaves = recordHashes.map((h, i) => {
    const bytes = typeof h === "string" ? fromHex(h, `record hash ${i}`) : h;
    assertHashSize(bytes, `record hash ${i}`);
    return rfc6962Hasher.hashLeaf(bytes);
  });
  return new MemoryTree(leaves);
}

/** The commitment for a list of record hashes. */
export function recordsCommitment(recordHashes: readonly (string | Uint8Array)[]): RecordsCommitment {
  const tree = recordTree(recordHashes);
  return { count: tree.size, root: toHex(tree.root()) };
}

/**
 * Checks that record hashes match a conversion record's commitment.
 * @throws LedgerError LEDGER_RECORDS_ROOT_MISMATCH
 */
export function assertRecordsCommitment(
  recordHashes: readonly (string | Uint8Array)[],
  expected: RecordsCommitment,
): void {
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
