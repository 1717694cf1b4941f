import fc from "fast-check";
import iconv from "iconv-lite";
import { describe, expect, it } from "vitest";
import { cp932DecodeTables } from "../format/cp932.js";
import { Cp932Decoder, userDefinedCodePoint } from "./cp932-decoder.js";

function decode(chunks: readonly Uint8Array[]): string {
  const d = new Cp932Decoder();
  let out = "";
  for (const c of chunks) out += d.write(c);
  return out + d.end();
}

function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let from = 0;
  for (const c of at) {
    parts.push(bytes.subarray(from, c));
    from = c;
  }
  parts.push(bytes.subarray(from));
  return parts;
}

describe("CP932 decoding with the whole user-defined area (外字)", () => {
  it("decodes all 1,880 user-defined pairs 0xF040–0xF9FC to U+E000–U+E757 in order", () => {
    let expected = 0xe000;
    for (let lead = 0xf0; lead <= 0xf9; lead++) {
      for (let trail = 0x40; trail <= 0xfc; trail++) {
        if (trail === 0x7f) continue;
        expect(
          decode([Buffer.from([lead, trail])]).codePointAt(0),
          `${lead.toString(16)}${trail.toString(16)}`,
        ).toBe(expected);
        expect(userDefinedCodePoint(lead, trail)).toBe(expected);
        expected++;
      }
    }
    expect(expected - 1).toBe(0xe757);
  });

  it("the pairs iconv-lite lacks no longer become U+FFFD and a stray letter", () => {
    expect(iconv.decode(Buffer.from([0x41, 0xf9, 0x41, 0x42]), "cp932")).toBe("A\ufffdAB"); // the gap
    expect(decode([Buffer.from([0x41, 0xf9, 0x41, 0x42])])).toBe("A\ue69dB");
    expect(decode([Buffer.from([0xf9, 0xfc])])).toBe("\ue757");
    // 0xF9 with a byte that is no trail byte stays what iconv-lite makes of it.
    expect(decode([Buffer.from([0xf9, 0x20])])).toBe(iconv.decode(Buffer.from([0xf9, 0x20]), "cp932"));
  });

  it("0xF9 as the trail byte of an ordinary character is not taken for a lead byte", () => {
    const { pair } = cp932DecodeTables();
    let lead = 0x81;
    while (lead <= 0xef && pair[(lead << 8) | 0xf9] === 0) lead++;
    expect(lead).toBeLessThanOrEqual(0xef);
    const bytes = Buffer.from([lead, 0xf9, 0x41, 0x42]);
    expect(decode([bytes])).toBe(iconv.decode(bytes, "cp932")); // ordinary character, then "AB"
    expect(decode(split(bytes, [1, 2]))).toBe(iconv.decode(bytes, "cp932"));
  });

  it("a lead byte that ends a chunk without its trail loses nothing (iconv-lite's streaming decoder drops the next byte)", () => {
    const bytes = Buffer.from([0x82, 0xf2, 0x00]);
    const stream = iconv.getDecoder("cp932");
    expect(stream.write(bytes.subarray(0, 2)) + stream.write(bytes.subarray(2)) + (stream.end() ?? "")).toBe(
      "\ufffd\ufffd",
    ); // the gap this decoder closes
    expect(decode([bytes.subarray(0, 2), bytes.subarray(2)])).toBe("\ufffd\ufffd\u0000");
    expect(iconv.decode(bytes, "cp932")).toBe("\ufffd\ufffd\u0000");
  });

  it("is iconv-lite's decoding for any bytes without 0xF9, however the chunks fall", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a.map((b) => (b === 0xf9 ? 0x88 : b)))),
        fc.array(fc.nat(), { maxLength: 6 }),
        (bytes, cuts) => {
          expect(decode(split(bytes, cuts))).toBe(iconv.decode(bytes, "cp932"));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("gives the same text however the chunks fall, 0xF9 included", () => {
    const byte = fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constant(0xf9),
      fc.constant(0x41),
      fc.constant(0x88),
    );
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 48 }), fc.array(fc.nat(), { maxLength: 6 }), (list, cuts) => {
        const bytes = Buffer.from(list);
        const whole = decode([bytes]);
        expect(decode(split(bytes, cuts))).toBe(whole);
      }),
      { numRuns: 2000 },
    );
  });
});
