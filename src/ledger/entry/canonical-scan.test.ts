import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "./canonical-json.js";
import { isPlainCanonical } from "./canonical-scan.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The property: a text the scan passes and JSON.parse accepts is the JCS form of its value. */
function agrees(text: string): boolean {
  if (!isPlainCanonical(bytes(text))) return true;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return true; // the grammar is JSON.parse's to refuse
  }
  return canonicalJson(parsed) === text;
}

describe("isPlainCanonical", () => {
  it("passes only JCS texts, for texts written many ways from any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const texts = [
          canonicalize(value) ?? "null",
          JSON.stringify(value),
          JSON.stringify(value, null, 1),
          JSON.stringify(value, (_k, v: unknown) =>
            v !== null && typeof v === "object" && !Array.isArray(v)
              ? Object.fromEntries(Object.entries(v).reverse())
              : v,
          ),
        ];
        for (const text of texts) expect(agrees(text)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("passes only JCS texts among strings of JSON tokens (numbers, keys, duplicates, nesting)", () => {
    const token = fc.constantFrom(
      ...[
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        '"a"',
        '"b"',
        '"ab"',
        '""',
        '"\\u0041"',
        '"é"',
        "0",
        "-0",
        "1",
        "-12",
      ],
      ...["1.0", "1e2", "1E2", "01", "9007199254740993", "123456789012345", "1234567890123456", "true"],
      ...["false", "null", " ", "\n"],
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 24 }), (tokens) => {
        expect(agrees(tokens.join(""))).toBe(true);
      }),
      { numRuns: 20000 },
    );
  });

  it("passes the usual record and refuses (leaves undecided) what is not plain JCS", () => {
    const record = canonicalize({
      v: 1,
      type: "upload",
      time: "2025-04-01T09:00:00.000Z",
      actor: { id: "u1", role: "sender", network: { address: "192.0.2.1", type: "ip" } },
      file: { sha256: "a".repeat(64), bytes: 4096 },
      erased: ["payload", "data-key"],
      n: [0, -1, 123456789012345, true, false, null, {}, []],
    }) as string;
    expect(isPlainCanonical(bytes(record))).toBe(true);
    for (const text of [
      '{"b":1,"a":2}',
      '{"a":1,"a":2}',
      '{"a":{"y":1,"x":2}}',
      '{"a":-0}',
      '{"a":1.5}',
      '{"a":1e3}',
      '{"a":1234567890123456}',
      '{"a": 1}',
      '{"a":"\\u0041"}',
      '{"a":"é"}',
      '{"9":1,"10":2}',
      '{"a":"x',
    ]) {
      expect(isPlainCanonical(bytes(text)), text).toBe(false);
    }
    expect(isPlainCanonical(bytes('{"10":1,"9":2}'))).toBe(true);
    expect(canonicalJson(JSON.parse('{"10":1,"9":2}'))).toBe('{"10":1,"9":2}');
  });
});
