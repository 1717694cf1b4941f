import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { refConsistency, refLeafHash, refPath, refRoot } from "../../test/ledger/reference-tree.js";
import { expectCode } from "../../test/ledger/expect-code.js";
import { MemoryTree } from "./memory-tree.js";
import { CompactRange } from "./verify/compact-range.js";
import { verifyConsistency } from "./verify/consistency.js";
import { rfc6962Hasher } from "./verify/hash.js";
import { verifyInclusion } from "./verify/inclusion.js";

const leaves = Array.from({ length: 5000 }, (_, i) => Uint8Array.of(i & 255, i >> 8, 7));
const leafHashes = leaves.map(refLeafHash);
const full = new MemoryTree(leafHashes);

function hex(list: readonly Uint8Array[]): string[] {
  return list.map((h) => Buffer.from(h).toString("hex"));
}

/** Indices to check in a tree of n: all of them while small, else the edges and a spread. */
function sample(n: number): number[] {
  if (n <= 40) return Array.from({ length: n }, (_, i) => i);
  return [0, 1, n >> 2, n >> 1, n - 2, n - 1, (n * 7) >> 3];
}

describe("proof building against the RFC 9162 reference for every size up to 300", () => {
  it("roots, inclusion and consistency proofs equal the reference, and verify", () => {
    const range = new CompactRange(rfc6962Hasher);
    for (let n = 1; n <= 300; n++) {
      range.append(leafHashes[n - 1] as Uint8Array);
      const prefix = leaves.slice(0, n);
      const root = refRoot(prefix);
      expect(hex([new MemoryTree(leafHashes.slice(0, n)).root()])).toEqual(hex([root]));
      expect(hex([range.root()])).toEqual(hex([root]));
      for (const m of sample(n)) {
        const proof = full.inclusionProof(m, n);
        expect(hex(proof)).toEqual(hex(refPath(m, prefix)));
        verifyInclusion({ index: m, size: n, leafHash: leafHashes[m] as Uint8Array, proof, root });
      }
      for (const m of sample(n)) {
        if (m === 0) continue;
        const proof = full.consistencyProof(m, n);
        expect(hex(proof)).toEqual(hex(refConsistency(m, prefix)));
        verifyConsistency({ size1: m, size2: n, root1: refRoot(leaves.slice(0, m)), root2: root, proof });
      }
    }
  });

  it("random larger trees agree with the reference (fast-check)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 301, max: 5000 }), fc.nat(), fc.nat(), (n, a, b) => {
        const m = a % n;
        const s1 = 1 + (b % n);
        const prefix = leaves.slice(0, n);
        const root = refRoot(prefix);
        expect(hex(full.inclusionProof(m, n))).toEqual(hex(refPath(m, prefix)));
        expect(hex(full.consistencyProof(s1, n))).toEqual(hex(refConsistency(s1, prefix)));
        verifyConsistency({
          size1: s1,
          size2: n,
          root1: refRoot(leaves.slice(0, s1)),
          root2: root,
          proof: full.consistencyProof(s1, n),
        });
      }),
      { numRuns: 25 },
    );
  });

  it("any proof with one flipped bit, or verified at another index, is rejected (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 2000 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (n, a, b, bit) => {
          const m = a % n;
          const tree = new MemoryTree(leafHashes.slice(0, n));
          const root = tree.root();
          const proof = tree.inclusionProof(m);
          if (proof.length === 0) return;
          const i = b % proof.length;
          const flipped = proof.map((h, j) =>
            j === i ? h.map((x, k) => (k === bit >> 3 ? x ^ (1 << (bit & 7)) : x)) : h,
          );
          expectCode(() => {
            verifyInclusion({
              index: m,
              size: n,
              leafHash: leafHashes[m] as Uint8Array,
              proof: flipped,
              root,
            });
          }, "LEDGER_PROOF_INVALID");
          const other = (m + 1 + (b % (n - 1))) % n;
          expect(() => {
            verifyInclusion({ index: other, size: n, leafHash: leafHashes[m] as Uint8Array, proof, root });
          }).toThrow();
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("named broken-proof cases in a tree of 300 (leaf 100, old size 77)", () => {
  const n = 300;
  const m = 100;
  const tree = new MemoryTree(leafHashes.slice(0, n));
  const root = tree.root();
  const leafHash = leafHashes[m] as Uint8Array;
  const proof = tree.inclusionProof(m);
  const old = new MemoryTree(leafHashes.slice(0, 77)).root();
  const cproof = tree.consistencyProof(77);

  it("when proof[2] has a flipped bit → LEDGER_PROOF_INVALID", () => {
    const bad = proof.map((h, j) => (j === 2 ? h.map((x, k) => (k === 5 ? x ^ 1 : x)) : h));
    expectCode(() => {
      verifyInclusion({ index: m, size: n, leafHash, proof: bad, root });
    }, "LEDGER_PROOF_INVALID");
  });
  it("when the index is 1 too high or too low (same proof shape) → LEDGER_PROOF_INVALID", () => {
    for (const index of [m + 1, m - 1]) {
      expectCode(() => {
        verifyInclusion({ index, size: n, leafHash, proof, root });
      }, "LEDGER_PROOF_INVALID");
    }
  });
  it("when the tree size is wrong (another proof shape) → LEDGER_PROOF_SIZE_INVALID", () => {
    expectCode(() => {
      verifyInclusion({ index: m, size: 2 * n, leafHash, proof, root });
    }, "LEDGER_PROOF_SIZE_INVALID");
  });
  it("when the index is past the size → LEDGER_INDEX_OUT_OF_RANGE", () => {
    expectCode(() => {
      verifyInclusion({ index: n, size: n, leafHash, proof, root });
    }, "LEDGER_INDEX_OUT_OF_RANGE");
  });
  it("when garbage trails the proof → LEDGER_PROOF_SIZE_INVALID", () => {
    expectCode(() => {
      verifyInclusion({ index: m, size: n, leafHash, proof: [...proof, new Uint8Array(32)], root });
    }, "LEDGER_PROOF_SIZE_INVALID");
  });
  it("when a proof hash is truncated → LEDGER_HASH_SIZE_INVALID", () => {
    const bad = proof.map((h, j) => (j === 0 ? h.slice(0, 31) : h));
    expectCode(() => {
      verifyInclusion({ index: m, size: n, leafHash, proof: bad, root });
    }, "LEDGER_HASH_SIZE_INVALID");
  });
  it("when the consistency roots are swapped → LEDGER_CONSISTENCY_PROOF_INVALID", () => {
    expect(() => {
      verifyConsistency({ size1: 77, size2: n, root1: old, root2: root, proof: cproof });
    }).not.toThrow();
    expectCode(() => {
      verifyConsistency({ size1: 77, size2: n, root1: root, root2: old, proof: cproof });
    }, "LEDGER_CONSISTENCY_PROOF_INVALID");
  });
  it("when the consistency sizes are reversed → LEDGER_CONSISTENCY_SIZE_ORDER", () => {
    expectCode(() => {
      verifyConsistency({ size1: n, size2: 77, root1: root, root2: old, proof: cproof });
    }, "LEDGER_CONSISTENCY_SIZE_ORDER");
  });
});
