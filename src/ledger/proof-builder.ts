/**
 * Builds RFC 9162 inclusion and consistency proofs (§2.1.3.1 PATH, §2.1.4.1 SUBPROOF) from a source of
 * perfect-subtree hashes. With stored interior nodes each proof needs O(log n) node reads: every sibling
 * is either one perfect subtree or — at most once per proof — the tree's right border, itself at most
 * log n perfect subtrees. Pure: used by the SQLite log and by in-memory record trees alike.
 * https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3
 */
import { LedgerError } from "./errors.js";
import type { TreeHasher } from "./verify/hash.js";
import { assertTreeSize, splitPoint } from "./verify/tree-shape.js";

/** Reads the hash of the perfect subtree of height `level` at position `index` (level 0 = leaf hash). */
export interface NodeReader {
  node(level: number, index: number): Uint8Array;
}

/** MTH of the leaves [start, end), where `start` is aligned as it always is inside an RFC 9162 tree. */
export function rangeHash(reader: NodeReader, hasher: TreeHasher, start: number, end: number): Uint8Array {
  if (end <= start) return hasher.emptyRoot();
  const parts: Uint8Array[] = [];
  let at = start;
  while (at < end) {
    let level = 0;
    // Largest aligned perfect subtree starting at `at` that fits before `end`.
    while (at % 2 ** (level + 1) === 0 && at + 2 ** (level + 1) <= end) level++;
    parts.push(reader.node(level, at / 2 ** level));
    at += 2 ** level;
  }
  let hash = parts[parts.length - 1] as Uint8Array;
  for (let i = parts.length - 2; i >= 0; i--) hash = hasher.hashChildren(parts[i] as Uint8Array, hash);
  return hash;
}

/** Root of the tree of `size` leaves. */
export function treeRoot(reader: NodeReader, hasher: TreeHasher, size: number): Uint8Array {
  assertTreeSize(size, "tree size");
  return rangeHash(reader, hasher, 0, size);
}

/**
 * Inclusion proof of leaf `index` in the tree of `size` (RFC 9162 §2.1.3.1), lowest sibling first.
 * @throws LedgerError LEDGER_INDEX_OUT_OF_RANGE
 */
export function buildInclusionProof(
  reader: NodeReader,
  hasher: TreeHasher,
  index: number,
  size: number,
): Uint8Array[] {
  assertTreeSize(size, "tree size");
  assertTreeSize(index, "leaf index");
  if (index >= size) {
    throw new LedgerError("LEDGER_INDEX_OUT_OF_RANGE", "葉の位置が木の大きさ以上です", { index, size });
  }
  const path: Uint8Array[] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      path.push(rangeHash(reader, hasher, lo + k, hi));
      hi = lo + k;
    } else {
      path.push(rangeHash(reader, hasher, lo, lo + k));
      lo += k;
    }
  }
  return path.reverse();
}

/**
 * Consistency proof from the tree of `size1` to the tree of `size2` (RFC 9162 §2.1.4.1); empty when the
 * sizes are equal or size1 is 0.
 * @throws LedgerError LEDGER_CONSISTENCY_SIZE_ORDER
 */
export function buildConsistencyProof(
  reader: NodeReader,
  hasher: TreeHasher,
  size1: number,
  size2: number,
): Uint8Array[] {
  assertTreeSize(size1, "size1");
  assertTreeSize(size2, "size2");
  if (size2 < size1) {
    throw new LedgerError("LEDGER_CONSISTENCY_SIZE_ORDER", "新しい木が古い木より小さくなっています", {
      size1,
      size2,
    });
  }
  if (size1 === 0 || size1 === size2) return [];
  // SUBPROOF(m, D[lo:hi], b), unrolled: descend towards the old tree's last leaf, collecting siblings.
  const proof: Uint8Array[] = [];
  let lo = 0;
  let hi = size2;
  const m = size1;
  let complete = true;
  for (;;) {
    const n = hi - lo;
    if (m - lo === n) {
      if (!complete) proof.push(rangeHash(reader, hasher, lo, hi));
      break;
    }
    const k = splitPoint(n);
    if (m - lo <= k) {
      proof.push(rangeHash(reader, hasher, lo + k, hi));
      hi = lo + k;
    } else {
      proof.push(rangeHash(reader, hasher, lo, lo + k));
      lo += k;
      complete = false;
    }
  }
  return proof.reverse();
}
