import { describe, expect, it } from "vitest";
import vectors from "../../../test/ledger/merkle-vectors.json" with { type: "json" };
import { expectCode } from "../../../test/ledger/expect-code.js";
import { verifyConsistency } from "./consistency.js";
import { fromHex, utf8 } from "./encoding.js";

const roots = vectors.roots.map((h) => fromHex(h));
const emptyRoot = fromHex(vectors.emptyRoot);
const REJECTIONS = [
  "LEDGER_SIZE_INVALID",
  "LEDGER_CONSISTENCY_SIZE_ORDER",
  "LEDGER_CONSISTENCY_EMPTY_TREE",
  "LEDGER_PROOF_SIZE_INVALID",
  "LEDGER_CONSISTENCY_PROOF_INVALID",
];

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code ?? "NONE";
  }
  return "NOTHROWN";
}

describe("verifyConsistency against transparency-dev/merkle vectors", () => {
  for (const v of vectors.consistency) {
    const { size1, size2 } = v;
    const root1 = roots[size1 - 1] as Uint8Array;
    const root2 = roots[size2 - 1] as Uint8Array;
    const proof = v.proof.map((h) => fromHex(h));
    const name = `${size1} → ${size2}`;

    it(`${name}: happy path verifies`, () => {
      expect(() => {
        verifyConsistency({ size1, size2, root1, root2, proof });
      }).not.toThrow();
    });
    if (proof.length === 0) continue;

    it(`${name}: size1 ± 1, size1 ^ 2, size2 × 2 / ÷ 2 → rejected`, () => {
      const wrong: [number, number][] = [
        [size1 - 1, size2],
        [size1 + 1, size2],
        [size1 ^ 2, size2],
        [size1, size2 * 2],
        [size1, Math.floor(size2 / 2)],
      ];
      for (const [s1, s2] of wrong) {
        expect(REJECTIONS).toContain(
          codeOf(() => {
            verifyConsistency({ size1: s1, size2: s2, root1, root2, proof });
          }),
        );
      }
    });

    it(`${name}: swapped roots → LEDGER_CONSISTENCY_PROOF_INVALID`, () => {
      expectCode(() => {
        verifyConsistency({ size1, size2, root1: root2, root2: root1, proof });
      }, "LEDGER_CONSISTENCY_PROOF_INVALID");
    });

    it(`${name}: wrong root1 / root2 text → LEDGER_HASH_SIZE_INVALID`, () => {
      expectCode(() => {
        verifyConsistency({ size1, size2, root1: utf8("WrongRoot"), root2, proof });
      }, "LEDGER_HASH_SIZE_INVALID");
      expectCode(() => {
        verifyConsistency({ size1, size2, root1, root2: utf8("WrongRoot"), proof });
      }, "LEDGER_HASH_SIZE_INVALID");
    });

    it(`${name}: empty, truncated, trailing or preceding garbage → LEDGER_PROOF_SIZE_INVALID`, () => {
      const bad = [
        [],
        proof.slice(0, -1),
        [...proof, new Uint8Array(0)],
        [...proof, root1],
        [...proof, root2],
        [new Uint8Array(0), ...proof],
        [root1, ...proof],
        [root2, ...proof],
        [proof[0] as Uint8Array, ...proof],
      ];
      for (const p of bad) {
        expectCode(() => {
          verifyConsistency({ size1, size2, root1, root2, proof: p });
        }, "LEDGER_PROOF_SIZE_INVALID");
      }
    });

    proof.forEach((_, i) => {
      it(`${name}: when proof[${i}] has a flipped bit → LEDGER_CONSISTENCY_PROOF_INVALID`, () => {
        const flipped = proof.map((h, j) => (j === i ? h.map((b, k) => (k === 0 ? b ^ 16 : b)) : h));
        expectCode(() => {
          verifyConsistency({ size1, size2, root1, root2, proof: flipped });
        }, "LEDGER_CONSISTENCY_PROOF_INVALID");
      });
    });
  }

  it("equal sizes: same roots and empty proof verify; different roots or a non-empty proof do not", () => {
    const r = roots[0] as Uint8Array;
    expect(() => {
      verifyConsistency({ size1: 1, size2: 1, root1: r, root2: r, proof: [] });
    }).not.toThrow();
    expectCode(() => {
      verifyConsistency({ size1: 1, size2: 1, root1: emptyRoot, root2: r, proof: [] });
    }, "LEDGER_CONSISTENCY_PROOF_INVALID");
    expectCode(() => {
      verifyConsistency({ size1: 1, size2: 1, root1: r, root2: r, proof: [emptyRoot] });
    }, "LEDGER_PROOF_SIZE_INVALID");
  });

  it("size1 > size2 → LEDGER_CONSISTENCY_SIZE_ORDER; size1 = 0 < size2 → LEDGER_CONSISTENCY_EMPTY_TREE", () => {
    const r = roots[0] as Uint8Array;
    expectCode(() => {
      verifyConsistency({ size1: 2, size2: 1, root1: r, root2: r, proof: [] });
    }, "LEDGER_CONSISTENCY_SIZE_ORDER");
    expectCode(() => {
      verifyConsistency({ size1: 0, size2: 1, root1: emptyRoot, root2: r, proof: [] });
    }, "LEDGER_CONSISTENCY_EMPTY_TREE");
  });
});
