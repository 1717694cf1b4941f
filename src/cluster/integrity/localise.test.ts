import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryTree } from "../../ledger/memory-tree.js";
import { rangeHash } from "../../ledger/proof-builder.js";
import { utf8 } from "../../ledger/verify/encoding.js";
import { rfc6962Hasher } from "../../ledger/verify/hash.js";
import { localiseDamage } from "./localise.js";

const leaf = (i: number, tag = "") => rfc6962Hasher.hashLeaf(utf8(`entry-${i}${tag}`));

async function localise(size: number, bad: ReadonlySet<number>, missing: ReadonlySet<number> = new Set()) {
  const healthy = new MemoryTree(
    Array.from({ length: size }, (_, i) => leaf(i)),
    rfc6962Hasher,
  );
  let requests = 0;
  const result = await localiseDamage({
    leaves: Array.from({ length: size }, (_, i) =>
      missing.has(i) ? undefined : leaf(i, bad.has(i) ? "-x" : ""),
    ),
    hasher: rfc6962Hasher,
    remote: (ranges) => {
      requests++;
      return Promise.resolve(ranges.map(([a, b]) => rangeHash(healthy, rfc6962Hasher, a, b)));
    },
  });
  return { ...result, requests };
}

describe("localising damage by subtree hashes", () => {
  it("finds exactly the changed and the missing leaves, for any tree size and any set of them", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 1, max: 300 })
          .chain((size) =>
            fc.tuple(
              fc.constant(size),
              fc.uniqueArray(fc.integer({ min: 0, max: size - 1 }), { maxLength: 6 }),
              fc.uniqueArray(fc.integer({ min: 0, max: size - 1 }), { maxLength: 3 }),
            ),
          ),
        async ([size, changed, gone]) => {
          const missing = new Set(gone);
          const bad = new Set(changed.filter((i) => !missing.has(i)));
          const result = await localise(size, bad, missing);
          expect(result.bad).toEqual([...bad, ...missing].sort((a, b) => a - b));
          // One round per tree level at most, one request per round.
          expect(result.requests).toBe(result.rounds);
          expect(result.rounds).toBeLessThanOrEqual(Math.ceil(Math.log2(size)) + 1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("one bad entry in 100,000 costs O(log n) hashes, not the log", async () => {
    const result = await localise(100_000, new Set([77_777]));
    expect(result.bad).toEqual([77_777]);
    expect(result.compared).toBeLessThanOrEqual(2 * 17 + 1);
  });

  it("an intact copy: one comparison, nothing bad", async () => {
    expect(await localise(1000, new Set())).toMatchObject({ bad: [], rounds: 1, compared: 1 });
  });
});
