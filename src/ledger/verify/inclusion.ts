/**
 * Verification of RFC 9162 inclusion proofs (§2.1.3.2). Every input is treated as attacker-controlled:
 * sizes and lengths are checked before any hashing, and each way a proof can be wrong has its own code.
 * https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2
 */
import { LedgerError } from "../errors.js";
import { bytesEqual, toHex } from "./encoding.js";
import { assertHashSize, rfc6962Hasher, type TreeHasher } from "./hash.js";
import { assertTreeSize, bitAt, decomposeInclusionProof } from "./tree-shape.js";

/** What an inclusion proof claims: leaf `leafHash` sits at `index` in the tree of `size` with `root`. */
export interface InclusionClaim {
  readonly index: number;
  readonly size: number;
  readonly leafHash: Uint8Array;
  readonly proof: readonly Uint8Array[];
  readonly root: Uint8Array;
}

/**
 * Recomputes the root from a leaf hash and its inclusion proof.
 * @throws LedgerError LEDGER_INDEX_OUT_OF_RANGE, LEDGER_HASH_SIZE_INVALID, LEDGER_PROOF_SIZE_INVALID
 */
export function rootFromInclusionProof(
  claim: Omit<InclusionClaim, "root">,
  hasher: TreeHasher = rfc6962Hasher,
): Uint8Array {
  const { index, size, leafHash, proof } = claim;
  assertTreeSize(size, "tree size");
  assertTreeSize(index, "leaf index");
  if (index >= size) {
    throw new LedgerError("LEDGER_INDEX_OUT_OF_RANGE", "葉の位置が木の大きさ以上です", { index, size });
  }
  assertHashSize(leafHash, "leaf hash");
  const { inner, border } = decomposeInclusionProof(index, size);
  if (proof.length !== inner + border) {
    throw new LedgerError("LEDGER_PROOF_SIZE_INVALID", "包含証明のハッシュの数が正しくありません", {
      got: proof.length,
      want: inner + border,
    });
  }
  proof.forEach((h, i) => {
    assertHashSize(h, `proof[${i}]`);
  });
  // Below the split point the leaf's index bit says on which side the sibling is; above it every
  // sibling is a left subtree on the tree's right border.
  let hash = leafHash;
  for (let i = 0; i < inner; i++) {
    const sibling = proof[i] as Uint8Array;
    hash = bitAt(index, i) === 0 ? hasher.hashChildren(hash, sibling) : hasher.hashChildren(sibling, hash);
  }
  for (let i = inner; i < proof.length; i++) hash = hasher.hashChildren(proof[i] as Uint8Array, hash);
  return hash;
}

/**
 * Verifies an inclusion proof against a root.
 * @throws LedgerError LEDGER_PROOF_INVALID when the proof leads to another root, or any code of
 *   {@link rootFromInclusionProof}.
 */
export function verifyInclusion(claim: InclusionClaim, hasher: TreeHasher = rfc6962Hasher): void {
  assertHashSize(claim.root, "root");
  const calculated = rootFromInclusionProof(claim, hasher);
  if (!bytesEqual(calculated, claim.root)) {
    throw new LedgerError("LEDGER_PROOF_INVALID", "包含証明から求めた根ハッシュが一致しません", {
      index: claim.index,
      size: claim.size,
      calculated: toHex(calculated),
      expected: toHex(claim.root),
    });
  }
}
