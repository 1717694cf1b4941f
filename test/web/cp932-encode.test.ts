/**
 * The browser's CP932 encoder (web/src/cp932-encode.ts) against iconv-lite, the encoder the conversion
 * engine's table is built from, over every BMP code unit: the same characters are encodable, and each
 * encodes to bytes that decode back to the same character (where CP932 has two codes for one character
 * the two encoders may pick different ones; Excel shows the same text).
 */
import iconv from "iconv-lite";
import { describe, expect, it } from "vitest";
import { encodeCp932, encodeUtf8Bom, hasUtf8Bom } from "../../web/src/cp932-encode.js";

describe("encodeCp932 (browser)", () => {
  it("agrees with iconv-lite on every BMP character", () => {
    const mismatches: string[] = [];
    let exact = 0;
    for (let u = 0; u < 0x10000; u++) {
      if (u >= 0xd800 && u <= 0xdfff) continue;
      // Written in their Windows forms on purpose (as src/format does): checked below.
      if ([0x301c, 0x2212, 0x2016, 0x2014, 0xa2, 0xa3, 0xac].includes(u)) continue;
      const ch = String.fromCharCode(u);
      const ref = iconv.encode(ch, "cp932");
      const refOk = !(ref.length === 1 && ref[0] === 0x3f && u !== 0x3f);
      const mine = encodeCp932(ch);
      if (refOk !== (mine !== undefined)) {
        mismatches.push(`U+${u.toString(16)} iconv=${refOk} ours=${mine !== undefined}`);
        continue;
      }
      if (!mine) continue;
      if (Buffer.from(mine).equals(ref)) exact++;
      else if (iconv.decode(Buffer.from(mine), "cp932") !== iconv.decode(ref, "cp932")) {
        mismatches.push(`U+${u.toString(16)} decodes differently`);
      }
    }
    expect(mismatches.length, mismatches.slice(0, 20).join("\n")).toBe(0);
    expect(exact).toBeGreaterThan(7000);
  });

  it("writes the Windows forms of the JIS/Microsoft split characters, and refuses what CP932 lacks", () => {
    expect(Buffer.from(encodeCp932("〜−") ?? []).equals(iconv.encode("～－", "cp932"))).toBe(true);
    expect(encodeCp932("健診 ｶﾅ abc")).toEqual(new Uint8Array(iconv.encode("健診 ｶﾅ abc", "cp932")));
    expect(encodeCp932("𠮷")).toBeUndefined();
    expect(encodeCp932("😀")).toBeUndefined();
  });

  it("UTF-8 with BOM starts with EF BB BF and is otherwise plain UTF-8", () => {
    const bytes = encodeUtf8Bom("受診日");
    expect(hasUtf8Bom(bytes)).toBe(true);
    expect(Buffer.from(bytes.subarray(3)).toString("utf8")).toBe("受診日");
    expect(hasUtf8Bom(new TextEncoder().encode("a"))).toBe(false);
  });
});
