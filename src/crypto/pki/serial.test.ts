import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PkiError } from "./errors.js";
import { normalizeSerialHex, randomSerialHex } from "./serial.js";

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (e) {
    if (e instanceof PkiError) return e.code;
    throw e;
  }
  return undefined;
}

describe("randomSerialHex", () => {
  it("clears the top bit and sets the next, keeping 16 octets", () => {
    expect(randomSerialHex(() => new Uint8Array(16).fill(0xff))).toBe(`7f${"ff".repeat(15)}`);
    expect(randomSerialHex(() => new Uint8Array(16))).toBe(`40${"00".repeat(15)}`);
  });

  it("always yields a positive, minimal 16-octet DER INTEGER (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        const hex = randomSerialHex(() => Uint8Array.from(bytes));
        expect(hex).toHaveLength(32);
        expect(normalizeSerialHex(hex)).toBe(hex);
      }),
    );
  });

  it("draws from the platform CSPRNG by default: 1000 serials, no repeats", () => {
    expect(new Set(Array.from({ length: 1000 }, () => randomSerialHex())).size).toBe(1000);
  });

  it("refuses a random source returning the wrong length → PKI_OPTION_INVALID", () => {
    expect(codeOf(() => randomSerialHex(() => new Uint8Array(8)))).toBe("PKI_OPTION_INVALID");
  });
});

describe("normalizeSerialHex", () => {
  it.each([
    ["01", "01"],
    ["7F", "7f"],
    ["00ff", "00ff"],
    ["4A".repeat(20), "4a".repeat(20)],
    [`00${"ff".repeat(20)}`, `00${"ff".repeat(20)}`],
  ])("accepts %s as %s", (input, expected) => {
    expect(normalizeSerialHex(input)).toBe(expected);
  });

  it.each([
    ["empty", ""],
    ["odd length", "abc"],
    ["zero", "00"],
    ["negative", "80"],
    ["redundant leading zero", "0001"],
    ["21 value octets", "01".repeat(21)],
    ["not hex", "0g"],
    ["with colons", "01:02"],
    ["a number", 5],
  ])("refuses %s → PKI_SERIAL_INVALID", (_, input) => {
    expect(codeOf(() => normalizeSerialHex(input))).toBe("PKI_SERIAL_INVALID");
  });
});
