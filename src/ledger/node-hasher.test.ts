import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nodeHasher } from "./node-hasher.js";
import { rfc6962Hasher } from "./verify/hash.js";

describe("node:crypto hasher", () => {
  it("gives the same leaf, node and empty-tree hashes as the pure browser hasher", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (entry, other) => {
          const leaf = nodeHasher.hashLeaf(entry);
          expect(leaf).toEqual(rfc6962Hasher.hashLeaf(entry));
          expect(nodeHasher.hashChildren(leaf, other)).toEqual(rfc6962Hasher.hashChildren(leaf, other));
        },
      ),
      { numRuns: 200 },
    );
    expect(nodeHasher.emptyRoot()).toEqual(rfc6962Hasher.emptyRoot());
  });

  it("hashes the same past its reused buffer: entries over 64 KiB, children that are not 32 bytes", () => {
    const big = new Uint8Array(70_000).map((_, i) => i % 251);
    expect(nodeHasher.hashLeaf(big)).toEqual(rfc6962Hasher.hashLeaf(big));
    const odd = [new Uint8Array(31).fill(1), new Uint8Array(33).fill(2)] as const;
    expect(nodeHasher.hashChildren(odd[0], odd[1])).toEqual(rfc6962Hasher.hashChildren(odd[0], odd[1]));
    // Results do not share the buffer: an earlier hash is unchanged by later ones.
    const first = nodeHasher.hashLeaf(Uint8Array.of(1));
    const copy = first.slice();
    nodeHasher.hashLeaf(Uint8Array.of(2));
    expect(first).toEqual(copy);
  });
});
