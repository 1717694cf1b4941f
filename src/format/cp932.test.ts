import iconv from "iconv-lite";
import { describe, expect, it } from "vitest";
import { cp932ByteLength, cp932DecodeTables, cp932DecodeTablesOneByOne, encodeCp932 } from "./cp932.js";

describe("encodeCp932", () => {
  it("agrees with iconv-lite for every BMP character CP932 can represent, and refuses the rest", () => {
    const chars: string[] = [];
    for (let u = 0; u < 0x10000; u++) if (u < 0xd800 || u > 0xdfff) chars.push(String.fromCharCode(u));
    for (const c of chars) {
      const ours = encodeCp932(c);
      const theirs = iconv.encode(c, "cp932");
      const representable = !(theirs.length === 1 && theirs[0] === 0x3f && c !== "?");
      if (representable) {
        expect(ours).toEqual(theirs);
        expect(cp932ByteLength(c)).toBe(theirs.length);
      } else {
        expect(ours).toBeUndefined();
        expect(cp932ByteLength(c)).toBe(-1);
      }
    }
  });

  it("encodes mixed text and refuses characters outside the BMP", () => {
    expect(encodeCp932("髙橋 ｱ ①～")).toEqual(iconv.encode("髙橋 ｱ ①～", "cp932"));
    expect(encodeCp932("𠮷")).toBeUndefined();
    expect(cp932ByteLength("a𠮷")).toBe(-1);
  });

  it("the decode tables (two iconv-lite calls) equal one iconv-lite call per one- and two-byte sequence", () => {
    const fast = cp932DecodeTables();
    const reference = cp932DecodeTablesOneByOne();
    expect([...fast.single]).toEqual([...reference.single]);
    expect(Buffer.from(fast.pair.buffer).equals(Buffer.from(reference.pair.buffer))).toBe(true);
  });
});
