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
});
