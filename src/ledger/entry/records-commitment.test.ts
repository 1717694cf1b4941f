import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { toHex } from "../verify/encoding.js";
import { packRecordHashes, recordHashCount, recordTree, recordsCommitment } from "./records-commitment.js";

const digest = (i: number): Uint8Array => createHash("sha256").update(String(i)).digest();

describe("recordsCommitment", () => {
  it("gives the tree's root for hex, byte arrays and packed digests alike, for every size 0–70", () => {
    for (let n = 0; n <= 70; n++) {
      const bytes = Array.from({ length: n }, (_, i) => digest(i));
      const hex = bytes.map((b) => toHex(b));
      const packed = packRecordHashes(hex);
      const expected = { count: n, root: toHex(recordTree(bytes).root()) };
      expect(recordsCommitment(hex)).toEqual(expected);
      expect(recordsCommitment(bytes)).toEqual(expected);
      expect(recordsCommitment(packed)).toEqual(expected);
      expect(recordHashCount(packed)).toBe(n);
    }
  });

  it("refuses a hash of the wrong size, in any form", () => {
    expect(() => recordsCommitment(["ab"])).toThrow();
    expect(() => recordsCommitment([new Uint8Array(31)])).toThrow();
    expect(() => recordsCommitment(new Uint8Array(33))).toThrow();
  });
});
