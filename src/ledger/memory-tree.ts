/**
 * An RFC 9162 tree held in memory: used for the Merkle tree over one conversion's record hashes, where the
 * leaves are few enough (one file) to keep. Perfect-subtree hashes are computed once and cached, so a
 * root plus any number of proofs cost O(n) hashing in total. Pure (browser-safe).
 */
import { buildConsistencyProof, buildInclusionProof, treeRoot, type NodeReader } from "./proof-builder.js";
import { rfc6962Hasher, type TreeHasher } from "./verify/hash.js";

/** A tree over given leaf hashes. */
export class MemoryTree implements NodeReader {
  readonly #levels: Uint8Array[][];
  readonly #hasher: TreeHasher;

  constructor(leafHashes: readonly Uint8Array[], hasher: TreeHasher = rfc6962Hasher) {
    this.#hasher = hasher;
    this.#levels = [[...leafHashes]];
  }

  get size(): number {
    return (this.#levels[0] as Uint8Array[]).length;
  }

  /** Hash of the perfect subtree (level, index), computed on first use. */
  node(level: number, index: number): Uint8Array {
    let row = this.#levels[level];
    if (row === undefined) {
      row = [];
      this.#levels[level] = row;
    }
    const cached = row[index];
    if (cached !== undefined) return cached;
    const hash = this.#hasher.hashChildren(
      this.node(level - 1, 2 * index),
      this.node(level - 1, 2 * index + 1),
    );
    row[index] = hash;
    return hash;
  }

  root(): Uint8Array {
    return treeRoot(this, this.#hasher, this.size);
  }

  inclusionProof(index: number, size = this.size): Uint8Array[] {
    return buildInclusionProof(this, this.#hasher, index, size);
  }

  consistencyProof(size1: number, size2 = this.size): Uint8Array[] {
    return buildConsistencyProof(this, this.#hasher, size1, size2);
  }
}
