/**
 * The browser's BlobSpill (web/src/blob-spill.ts), which the upload (sealed pieces) and the download
 * (opened pieces) gather their bytes in: the Blob holds exactly the bytes added, in order, and the
 * pieces held as arrays never pass the fold size plus the piece that crossed it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BlobSpill } from "../../web/src/blob-spill.js";

describe("BlobSpill", () => {
  it("gives back every byte in order while holding at most one fold of pieces", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 8000 }),
        async (lengths, foldBytes) => {
          const spill = new BlobSpill("text/csv", foldBytes);
          const pieces = lengths.map((n, i) => new Uint8Array(n).map((_, k) => (k * 31 + i) & 0xff));
          let largest = 0;
          for (const piece of pieces) {
            spill.add(piece);
            largest = Math.max(largest, piece.length);
            expect(spill.held).toBeLessThan(foldBytes + largest);
          }
          const blob = spill.finish();
          expect(spill.held).toBe(0);
          expect(blob.type).toBe("text/csv");
          expect(blob.size).toBe(spill.size);
          expect(Buffer.from(await blob.arrayBuffer()).equals(Buffer.concat(pieces))).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("folds a large stream into the Blob instead of keeping the arrays", async () => {
    const spill = new BlobSpill("application/octet-stream", 1 << 20);
    const piece = new Uint8Array(64 * 1024).fill(7);
    let most = 0;
    for (let i = 0; i < 256; i++) {
      spill.add(piece);
      most = Math.max(most, spill.held);
    }
    // 16 MiB went in; never more than the 1 MiB fold was held as arrays.
    expect(most).toBeLessThanOrEqual(1 << 20);
    const blob = spill.finish();
    expect(blob.size).toBe(16 << 20);
    expect(new Uint8Array(await blob.slice((16 << 20) - 3).arrayBuffer())).toEqual(new Uint8Array([7, 7, 7]));
  });
});
