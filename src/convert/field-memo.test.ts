import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FieldMemo, MAX_KEY, type MemoOutcome } from "./field-memo.js";

const outcome = (value: string, extra: Partial<MemoOutcome> = {}): MemoOutcome => ({
  value,
  original: "",
  finding: undefined,
  rejected: false,
  issues: [],
  ...extra,
});

describe("FieldMemo", () => {
  it("finds exactly the keys remembered, by their bytes (a Map of strings as the reference)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: MAX_KEY }), { minLength: 1, maxLength: 400 }),
        (keys) => {
          const memo = new FieldMemo({ capacity: 10_000, window: 1 << 30, minHits: 0 });
          const reference = new Map<string, string>();
          // Each key sits at a different offset of a larger buffer, like a field in a row.
          for (const [n, key] of keys.entries()) {
            const buf = Buffer.concat([Buffer.alloc(n % 7, 0x2c), key, Buffer.from([0x2c, 0x31])]);
            const start = n % 7;
            const name = Buffer.from(key).toString("hex");
            const entry = memo.find(buf, start, start + key.length);
            const known = reference.get(name);
            if (known === undefined) {
              expect(entry).toBe(-1);
              memo.remember(outcome(`v${n}`));
              reference.set(name, `v${n}`);
            } else {
              expect(memo.values[entry]).toBe(known);
              expect(memo.lastPlain).toBe(true);
            }
          }
        },
      ),
    );
  });

  it("keys that differ only in trailing zero bytes or length are different keys", () => {
    const memo = new FieldMemo();
    const buf = Buffer.from([0x41, 0x00, 0x00, 0x00, 0x00]);
    for (let len = 1; len <= 5; len++) {
      expect(memo.find(buf, 0, len)).toBe(-1);
      memo.remember(outcome(`len${len}`));
    }
    for (let len = 1; len <= 5; len++) expect(memo.values[memo.find(buf, 0, len)]).toBe(`len${len}`);
  });

  it("an outcome with issues, a finding or a rejection is kept whole and is not plain", () => {
    const memo = new FieldMemo();
    const buf = Buffer.from("abc");
    memo.find(buf, 0, 3);
    const issue = { severity: "warning", code: "VALUE_OUT_OF_RANGE", row: 5, message: "m" } as const;
    const whole = outcome("x", { rejected: true, finding: "abnormal", issues: [issue] });
    memo.remember(whole);
    const entry = memo.find(buf, 0, 3);
    expect(memo.lastPlain).toBe(false);
    expect(memo.outcome(entry)).toBe(whole);
  });

  it("holds at most `capacity` entries, and turns itself off after a window with too few hits", () => {
    const memo = new FieldMemo({ capacity: 8, window: 16, minHits: 4 });
    const key = (n: number) => Buffer.from(`k${n}`);
    for (let n = 0; n < 12; n++) {
      const b = key(n);
      expect(memo.find(b, 0, b.length)).toBe(-1);
      memo.remember(outcome(`v${n}`));
    }
    expect(memo.values.length).toBe(8);
    // 12 misses so far; 3 hits and one miss more end the window of 16 with 3 < 4 hits.
    for (const n of [0, 1, 2]) expect(memo.find(key(n), 0, 2)).toBeGreaterThanOrEqual(0);
    expect(memo.enabled).toBe(true);
    expect(memo.find(key(11), 0, 3)).toBe(-1);
    expect(memo.enabled).toBe(false);
  });

  it("a window with enough hits keeps it on", () => {
    const memo = new FieldMemo({ capacity: 8, window: 16, minHits: 4 });
    const b = Buffer.from("170.5");
    memo.find(b, 0, b.length);
    memo.remember(outcome("170.5"));
    for (let n = 0; n < 100; n++) expect(memo.find(b, 0, b.length)).toBe(0);
    expect(memo.enabled).toBe(true);
  });
});
