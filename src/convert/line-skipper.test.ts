import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LineSkipper } from "./line-skipper.js";
import { splitAt } from "../../test/support/chunks.js";

function skip(chunks: readonly string[], n: number): string {
  const s = new LineSkipper(n);
  return chunks.map((c) => s.take(c)).join("");
}

describe("LineSkipper", () => {
  it("drops the first N lines whatever their line breaks", () => {
    expect(skip(['banner "x\r\ntitle\nh1,h2\r\n1,2\n'], 2)).toBe("h1,h2\r\n1,2\n");
    expect(skip(["a\rb\rc"], 2)).toBe("c");
    expect(skip(["a\nb"], 0)).toBe("a\nb");
  });

  it("gives the same text however it is chunked", () => {
    const text = fc
      .array(fc.constantFrom("a", "\r", "\n", "\r\n", "あ"), { maxLength: 40 })
      .map((a) => a.join(""));
    fc.assert(
      fc.property(text, fc.nat(5), fc.array(fc.nat(40), { maxLength: 6 }), (t, n, cuts) => {
        expect(skip(splitAt(t, cuts), n)).toBe(skip([t], n));
      }),
    );
  });
});
