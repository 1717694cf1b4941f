/**
 * A compact range [0, size): the roots of the perfect subtrees that make up the tree's left part, one per
 * set bit of `size` (transparency-dev/merkle `compact.Range`, docs/compact_ranges.md). Appending a leaf
 * merges equal-sized neighbours, so the root of any size is O(log n) state and the interior nodes that
 * complete on each append are reported for storage.
 */
import type { TreeHasher } from "./hash.js";

/** An interior node that became complete: level ≥ 1, index among nodes of that level, hash. */
export interface CompletedNode {
  readonly level: number;
  readonly index: number;
  readonly hash: Uint8Array;
}

/** Mutable compact range over a growing tree. Not shared: the sequencer and fsck each own one. */
export class CompactRange {
  #size: number;
  /** Perfect-subtree roots from the largest (leftmost) to the smallest (rightmost). */
  readonly #hashes: Uint8Array[];
  readonly #hasher: TreeHasher;

  /**
   * @param hasher the tree's hash functions
   * @param size number of leaves already covered
   * @param hashes roots of the perfect subtrees of `size`, leftmost first (one per set bit of size)
   */
  constructor(hasher: TreeHasher, size = 0, hashes: readonly Uint8Array[] = []) {
    this.#hasher = hasher;
    this.#size = size;
    this.#hashes = [...hashes];
  }

  get size(): number {
    return this.#size;
  }

  /** Appends one leaf hash; returns the interior nodes completed by it, lowest level first. */
  append(leafHash: Uint8Array): CompletedNode[] {
    const completed: CompletedNode[] = [];
    let hash = leafHash;
    let level = 0;
    let index = this.#size;
    // Each trailing one bit of the old size is a perfect subtree of the same height to merge with.
    let n = this.#size;
    while (n % 2 === 1) {
      const left = this.#hashes.pop() as Uint8Array;
      hash = this.#hasher.hashChildren(left, hash);
      level++;
      index = Math.floor(index / 2);
      completed.push({ level, index, hash });
      n = Math.floor(n / 2);
    }
    this.#hashes.push(hash);
    this.#size++;
    return completed;
  }

  /** Root of the tree [0, size): the subtree roots folded from the right (RFC 9162 §2.1.1). */
  root(): Uint8Array {
    if (this.#hashes.length === 0) return this.#hasher.emptyRoot();
    let hash = this.#hashes[this.#hashes.length - 1] as Uint8Array;
    for (let i = this.#hashes.length - 2; i >= 0; i--)
      hash = this.#hasher.hashChildren(this.#hashes[i] as Uint8Array, hash);
    return hash;
  }
}
