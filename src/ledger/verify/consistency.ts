/**
 * Verification of RFC 9162 consistency proofs (§2.1.4.2): the tree of `size1` with `root1` is a prefix of
 * the tree of `size2` with `root2`. https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.2
 */
import { LedgerError } from "../errors.js";
import { bytesEqual, toHex } from "./encoding.js";
import { assertHashSize, rfc6962Hasher, type TreeHasher } from "./hash.js";
import { assertTreeSize, bitAt, decomposeInclusionProof, shiftRight, trailingZeros } from "./tree-shape.js";

/** What a consistency proof claims. */
export interface ConsistencyClaim {
  readonly size1: number;
  readonly size2: number;
  readonly root1: Uint8Array;
  readonly root2: Uint8Array;
  readonly proof: readonly Uint8Array[];
}

/**
 * Verifies a consistency proof.
 * @throws LedgerError LEDGER_CONSISTENCY_SIZE_ORDER (size2 < size1), LEDGER_CONSISTENCY_EMPTY_TREE
 *   (size1 = 0 < size2: a proof from the empty tree proves nothing), LEDGER_PROOF_SIZE_INVALID,
 *   LEDGER_HASH_SIZE_INVALID, LEDGER_CONSISTENCY_PROOF_INVALID (either root does not follow).
 */
export function verifyConsistency(claim: ConsistencyClaim, hasher: TreeHasher = rfc6962Hasher): void {
  const { size1, size2, root1, root2, proof } = claim;
  assertTreeSize(size1, "size1");
  assertTreeSize(size2, "size2");
  assertHashSize(root1, "root1");
  assertHashSize(root2, "root2");
  if (size2 < size1) {
    throw new LedgerError("LEDGER_CONSISTENCY_SIZE_ORDER", "新しい木が古い木より小さくなっています", {
      size1,
      size2,
    });
  }
  if (size1 === size2) {
    if (proof.length !== 0) {
      throw new LedgerError(
        "LEDGER_PROOF_SIZE_INVALID",
        "同じ大きさの木の一貫性証明は空でなければなりません",
        {
          got: proof.length,
          want: 0,
        },
      );
    }
    mustMatch(root1, root2, "root2", claim);
    return;
  }
  if (size1 === 0) {
    throw new LedgerError("LEDGER_CONSISTENCY_EMPTY_TREE", "空の木からの一貫性証明は意味を持ちません", {
      size2,
    });
  }
  // RFC 9162 §2.1.4.2 steps 1–2: if size1 is a power of two its root is the first node of the path,
  // otherwise the proof starts with it.
  const { inner: fullInner, border } = decomposeInclusionProof(size1 - 1, size2);
  const shift = trailingZeros(size1);
  const inner = fullInner - shift;
  const size1IsSubtree = size1 === 2 ** shift;
  const start = size1IsSubtree ? 0 : 1;
  if (proof.length !== start + inner + border) {
    throw new LedgerError("LEDGER_PROOF_SIZE_INVALID", "一貫性証明のハッシュの数が正しくありません", {
      got: proof.length,
      want: start + inner + border,
    });
  }
  proof.forEach((h, i) => {
    assertHashSize(h, `proof[${i}]`);
  });
  const seed = size1IsSubtree ? root1 : (proof[0] as Uint8Array);
  const path = proof.slice(start);
  const mask = shiftRight(size1 - 1, shift);

  // Old root: only the left siblings of the path contribute.
  let hash1 = seed;
  for (let i = 0; i < inner; i++) {
    if (bitAt(mask, i) === 1) hash1 = hasher.hashChildren(path[i] as Uint8Array, hash1);
  }
  for (let i = inner; i < path.length; i++) hash1 = hasher.hashChildren(path[i] as Uint8Array, hash1);
  mustMatch(hash1, root1, "root1", claim);

  // New root: every sibling contributes.
  let hash2 = seed;
  for (let i = 0; i < inner; i++) {
    const sibling = path[i] as Uint8Array;
    hash2 = bitAt(mask, i) === 0 ? hasher.hashChildren(hash2, sibling) : hasher.hashChildren(sibling, hash2);
  }
  for (let i = inner; i < path.length; i++) hash2 = hasher.hashChildren(path[i] as Uint8Array, hash2);
  mustMatch(hash2, root2, "root2", claim);
}

function mustMatch(
  calculated: Uint8Array,
  expected: Uint8Array,
  which: string,
  claim: ConsistencyClaim,
): void {
  if (!bytesEqual(calculated, expected)) {
    throw new LedgerError("LEDGER_CONSISTENCY_PROOF_INVALID", "一貫性証明が根ハッシュと一致しません", {
      which,
      size1: claim.size1,
      size2: claim.size2,
      calculated: toHex(calculated),
      expected: toHex(expected),
    });
  }
}
