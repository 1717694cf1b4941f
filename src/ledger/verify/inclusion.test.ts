import { describe, expect, it } from "vitest";
import vectors from "../../../test/ledger/merkle-vectors.json" with { type: "json" };
import { expectCode } from "../../../test/ledger/expect-code.js";
import { fromHex, utf8 } from "./encoding.js";
import { rfc6962Hasher } from "./hash.js";
import { verifyInclusion } from "./inclusion.js";

const roots = vectors.roots.map((h) => fromHex(h));
const leafHashes = vectors.leaves.map((h) => rfc6962Hasher.hashLeaf(fromHex(h)));
const someHash = fromHex(vectors.someHash);
const emptyRoot = fromHex(vectors.emptyRoot);
const REJECTIONS = [
  "LEDGER_SIZE_INVALID",
  "LEDGER_INDEX_OUT_OF_RANGE",
  "LEDGER_PROOF_INVALID",
  "LEDGER_PROOF_SIZE_INVALID",
];

function flip(proof: Uint8Array[], i: number, mask: number): Uint8Array[] {
  return proof.map((h, j) => (j === i ? h.map((b, k) => (k === 0 ? b ^ mask : b)) : h));
}

describe("verifyInclusion against transparency-dev/merkle vectors", () => {
  for (const v of vectors.inclusion) {
    const index = v.leaf - 1;
    const size = v.size;
    const leafHash = leafHashes[index] as Uint8Array;
    const root = roots[size - 1] as Uint8Array;
    const proof = v.proof.map((h) => fromHex(h));
    const name = `leaf ${index} in tree of ${size}`;

    it(`${name}: happy path verifies`, () => {
      expect(() => {
        verifyInclusion({ index, size, leafHash, proof, root });
      }).not.toThrow();
    });

    it(`${name}: index ± 1 and size × 2 / ÷ 2 → rejected`, () => {
      const wrong: [number, number][] = [
        [index - 1, size],
        [index + 1, size],
        [index ^ 2, size],
        [index, size * 2],
        [index, Math.floor(size / 2)],
      ];
      for (const [i, s] of wrong) {
        expect(REJECTIONS).toContain(
          codeOf(() => {
            verifyInclusion({ index: i, size: s, leafHash, proof, root });
          }),
        );
      }
    });

    it(`${name}: wrong leaf → LEDGER_HASH_SIZE_INVALID; empty or random root → LEDGER_PROOF_INVALID`, () => {
      expectCode(() => {
        verifyInclusion({ index, size, leafHash: utf8("WrongLeaf"), proof, root });
      }, "LEDGER_HASH_SIZE_INVALID");
      expectCode(() => {
        verifyInclusion({ index, size, leafHash, proof, root: emptyRoot });
      }, "LEDGER_PROOF_INVALID");
      expectCode(() => {
        verifyInclusion({ index, size, leafHash, proof, root: someHash });
      }, "LEDGER_PROOF_INVALID");
    });

    it(`${name}: trailing or preceding garbage → LEDGER_PROOF_SIZE_INVALID`, () => {
      for (const bad of [
        [...proof, new Uint8Array(0)],
        [...proof, root],
        [new Uint8Array(0), ...proof],
        [root, ...proof],
      ]) {
        expectCode(() => {
          verifyInclusion({ index, size, leafHash, proof: bad, root });
        }, "LEDGER_PROOF_SIZE_INVALID");
      }
    });

    proof.forEach((_, i) => {
      it(`${name}: when proof[${i}] has a flipped bit → LEDGER_PROOF_INVALID`, () => {
        expectCode(() => {
          verifyInclusion({ index, size, leafHash, proof: flip(proof, i, 8), root });
        }, "LEDGER_PROOF_INVALID");
      });
    });

    if (proof.length > 1) {
      it(`${name}: removed or inserted component → LEDGER_PROOF_SIZE_INVALID`, () => {
        expectCode(() => {
          verifyInclusion({ index, size, leafHash, proof: proof.slice(0, -1), root });
        }, "LEDGER_PROOF_SIZE_INVALID");
        const inserted = [proof[0] as Uint8Array, someHash, ...proof.slice(1)];
        expectCode(() => {
          verifyInclusion({ index, size, leafHash, proof: inserted, root });
        }, "LEDGER_PROOF_SIZE_INVALID");
      });
    }
  }

  it("single entry: root equals leaf hash with an empty proof; empty leaf or root is refused", () => {
    const hash = rfc6962Hasher.hashLeaf(utf8("data"));
    expect(() => {
      verifyInclusion({ index: 0, size: 1, leafHash: hash, proof: [], root: hash });
    }).not.toThrow();
    expectCode(() => {
      verifyInclusion({ index: 0, size: 1, leafHash: new Uint8Array(0), proof: [], root: hash });
    }, "LEDGER_HASH_SIZE_INVALID");
    expectCode(() => {
      verifyInclusion({ index: 0, size: 1, leafHash: hash, proof: [], root: new Uint8Array(0) });
    }, "LEDGER_HASH_SIZE_INVALID");
  });

  it("index beyond size, empty tree, and unsafe sizes are refused before hashing", () => {
    for (const [index, size] of [
      [0, 0],
      [1, 0],
      [2, 1],
    ] as const) {
      expectCode(() => {
        verifyInclusion({ index, size, leafHash: someHash, proof: [], root: emptyRoot });
      }, "LEDGER_INDEX_OUT_OF_RANGE");
    }
    expectCode(() => {
      verifyInclusion({ index: 0, size: 2 ** 60, leafHash: someHash, proof: [], root: emptyRoot });
    }, "LEDGER_SIZE_INVALID");
    expectCode(() => {
      verifyInclusion({ index: 0.5, size: 2, leafHash: someHash, proof: [], root: emptyRoot });
    }, "LEDGER_SIZE_INVALID");
  });
});

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code ?? "NONE";
  }
  return "NOTHROWN";
}
