import fc from "fast-check";
import iconv from "iconv-lite";
import { describe, expect, it } from "vitest";
import { REPLACEMENT_CHAR, SourceDecoder, type DeclaredEncoding } from "./source-decoder.js";
import { splitAt } from "../../test/support/chunks.js";

function decodeAll(bytes: Uint8Array, declared: DeclaredEncoding, cuts: number[] = []) {
  const d = new SourceDecoder(declared);
  let out = "";
  for (const chunk of splitAt(bytes, cuts)) out += d.write(chunk);
  return { text: out + d.end(), encoding: d.encoding };
}

const sampleText = "受診者番号,氏名,ｶﾅ,身長\r\n0001,健診 太郎,ｹﾝｼﾝ ﾀﾛｳ,１７０．５\r\n";

describe("SourceDecoder", () => {
  it("auto-detects CP932 when the bytes are not UTF-8", () => {
    expect(decodeAll(iconv.encode(sampleText, "cp932"), "auto")).toEqual({
      text: sampleText,
      encoding: "cp932",
    });
  });

  it("auto-detects UTF-8 with and without BOM and strips the BOM", () => {
    const plain = Buffer.from(sampleText, "utf8");
    expect(decodeAll(plain, "auto")).toEqual({ text: sampleText, encoding: "utf-8" });
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), plain]);
    expect(decodeAll(bom, "auto")).toEqual({ text: sampleText, encoding: "utf-8" });
  });

  it("reads UTF-16LE with a BOM", () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(sampleText, "utf16le")]);
    expect(decodeAll(bytes, "auto").text).toBe(sampleText);
  });

  it("when a file declared cp932 has a UTF-8 BOM → CONVERT_ENCODING_UNSUPPORTED", () => {
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(sampleText, "utf8")]);
    expect(() => decodeAll(bom, "cp932")).toThrow(
      expect.objectContaining({ code: "CONVERT_ENCODING_UNSUPPORTED" }),
    );
  });

  it("marks undecodable bytes with U+FFFD instead of failing", () => {
    const { text } = decodeAll(iconv.encode(sampleText, "cp932"), "utf-8");
    expect(text).toContain(REPLACEMENT_CHAR);
  });

  it("gives the same text however the bytes are cut (multi-byte characters split across chunks)", () => {
    for (const encoding of ["cp932", "utf-8"] as const) {
      const bytes = iconv.encode(sampleText.repeat(3), encoding);
      fc.assert(
        fc.property(fc.array(fc.nat(bytes.length), { maxLength: 10 }), (cuts) => {
          expect(decodeAll(bytes, encoding, cuts).text).toBe(sampleText.repeat(3));
          expect(decodeAll(bytes, "auto", cuts).text).toBe(sampleText.repeat(3));
        }),
        { numRuns: 200 },
      );
    }
  });
});
