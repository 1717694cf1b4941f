import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PureMemo } from "./pure-memo.js";
import { parseJapaneseDate } from "./wareki.js";

describe("PureMemo", () => {
  it("gives what the function gives, for any sequence of keys (here: 和暦 dates)", () => {
    const memo = new PureMemo(parseJapaneseDate);
    const key = fc.oneof(
      fc.constantFrom("R7.1.2", "H1.1.8", "S64.1.7", "令和7年1月2日", "2025/01/02", "R7.2.30", "", "x"),
      fc.string({ maxLength: 80 }),
    );
    fc.assert(
      fc.property(fc.array(key, { maxLength: 200 }), (keys) => {
        for (const k of keys) expect(memo.get(k)).toEqual(parseJapaneseDate(k));
      }),
    );
  });

  it("makes a short key once, a long key every time, and stays bounded", () => {
    let made = 0;
    const memo = new PureMemo((k: string) => {
      made++;
      return k.length;
    });
    memo.get("abc");
    memo.get("abc");
    expect(made).toBe(1);
    const long = "x".repeat(65);
    memo.get(long);
    memo.get(long);
    expect(made).toBe(3);
    for (let i = 0; i < 10_000; i++) memo.get(`k${i}`);
    made = 0;
    memo.get("abc"); // emptied when full: made again
    expect(made).toBe(1);
  });
});
