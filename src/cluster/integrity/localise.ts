/**
 * Finds which entries of a node's copy differ from a healthy peer's without shipping the log: both sides
 * hash the same ranges of the tree of the published size (RFC 9162 MTH, split exactly as the tree
 * splits: the largest power of two below the length on the left), and only ranges whose hashes differ
 * are split again — O(d · log n) hashes over O(log n) round trips for d bad entries. The local side
 * hashes leaves it *recomputed from its entry bytes* (a missing row is a leaf no hash can equal), so a
 * consistent rewrite of stored hashes cannot hide a changed entry; the peer answers from its stored
 * nodes, and whatever it says is only a hint: the entries fetched afterwards are proven against the
 * published checkpoint.
 */
import { MemoryTree } from "../../ledger/memory-tree.js";
import { rangeHash } from "../../ledger/proof-builder.js";
import { bytesEqual } from "../../ledger/verify/encoding.js";
import type { TreeHasher } from "../../ledger/verify/hash.js";
import { splitPoint } from "../../ledger/verify/tree-shape.js";
import { ClusterError } from "../errors.js";

/** A leaf no SHA-256 output is expected to equal: stands for a missing entry row. */
const MISSING_LEAF = new Uint8Array(32);

export interface Localisation {
  /** Indices whose recomputed leaf differs from the peer's, ascending. */
  readonly bad: readonly number[];
  readonly rounds: number;
  /** Range hashes compared in all. */
  readonly compared: number;
}

/**
 * @param leaves recomputed leaf hashes of [0, size); undefined where the row is missing
 * @param remote the peer's MTH of each range of the tree of `size`
 * @param maxBad stop splitting once this many bad entries are found (the rest is then one range)
 */
export async function localiseDamage(o: {
  readonly leaves: readonly (Uint8Array | undefined)[];
  readonly hasher: TreeHasher;
  readonly remote: (ranges: readonly (readonly [number, number])[]) => Promise<Uint8Array[]>;
  readonly maxRounds?: number;
}): Promise<Localisation> {
  const size = o.leaves.length;
  if (size === 0) return { bad: [], rounds: 0, compared: 0 };
  const tree = new MemoryTree(
    o.leaves.map((l) => l ?? MISSING_LEAF),
    o.hasher,
  );
  const bad: number[] = [];
  let pending: [number, number][] = [[0, size]];
  let rounds = 0;
  let compared = 0;
  const maxRounds = o.maxRounds ?? 64;
  while (pending.length > 0) {
    if (++rounds > maxRounds) {
      throw new ClusterError("CLUSTER_REPAIR_FAILED", "損傷の位置を特定できません", { rounds });
    }
    const theirs = await o.remote(pending);
    compared += pending.length;
    const next: [number, number][] = [];
    pending.forEach(([from, to], i) => {
      const ours = rangeHash(tree, o.hasher, from, to);
      if (bytesEqual(ours, theirs[i] as Uint8Array)) return;
      if (to - from === 1) {
        bad.push(from);
        return;
      }
      const k = splitPoint(to - from);
      next.push([from, from + k], [from + k, to]);
    });
    pending = next;
  }
  return { bad: bad.sort((a, b) => a - b), rounds, compared };
}
