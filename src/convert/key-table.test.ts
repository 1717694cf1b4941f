import { describe, expect, it } from "vitest";
import { KeyTable } from "./key-table.js";

/** A deterministic pseudo-random generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ["A", "1", "9", "受", "診", "ｱ", "\u001f", "😀", "-"];

describe("KeyTable", () => {
  it("finds exactly the keys a Map of joined strings finds, with their first line, through growth and a copy", () => {
    const next = random(13);
    const table = new KeyTable();
    const map = new Map<string, number>();
    const indices = [2, 0];
    for (let line = 1; line <= 20_000; line++) {
      const part = (): string =>
        Array.from(
          { length: Math.floor(next() * 4) },
          () => ALPHABET[Math.floor(next() * ALPHABET.length)],
        ).join("");
      const values = [part(), "x", part()];
      const staged = table.stage(values, indices);
      const a = values[2] ?? "";
      const b = values[0] ?? "";
      expect(staged).toBe(a !== "" && b !== "");
      if (!staged) continue;
      const key = `${a}\u001f${b}`;
      const found = table.findStaged();
      const first = map.get(key);
      if (first === undefined) {
        expect(found).toBe(-1);
        map.set(key, line);
        table.addStaged(line);
      } else {
        expect(table.lineOf(found)).toBe(first);
      }
    }
    expect(table.size).toBe(map.size);
    expect(map.size).toBeGreaterThan(1000);

    // A copy (as moved to another thread) holds the same keys; findIn looks a key up in another table.
    const copy = new KeyTable(table.data());
    for (let e = 0; e < table.size; e++) {
      const inCopy = table.findIn(copy, e);
      expect(copy.lineOf(inCopy)).toBe(table.lineOf(e));
    }
    const other = new KeyTable();
    other.stage(["zz", "", "zz"], [0, 2]);
    other.addStaged(7);
    expect(other.findIn(table, 0)).toBe(-1);
  });

  it("keeps keys across arena segments, long keys (two-byte lengths, one longer than a segment) and a copy", () => {
    const next = random(7);
    const table = new KeyTable();
    const map = new Map<string, number>();
    const huge = "受".repeat(700_000); // 2.1 MB of UTF-8: a segment of its own
    let wrong = 0;
    for (let line = 1; line <= 150_000; line++) {
      const r = next();
      const id =
        r < 0.002
          ? `L${"x".repeat(100 + Math.floor(next() * 300))}${line % 97}`
          : `K${Math.floor(next() * 120_000)}`;
      const values = line === 50_000 || line === 50_001 ? [huge, "20250101"] : [id, `2025${line % 3}`];
      if (!table.stage(values, [0, 1])) wrong++;
      const key = `${values[0] ?? ""}\u001f${values[1] ?? ""}`;
      const found = table.findStaged();
      const first = map.get(key);
      if (first === undefined) {
        if (found !== -1) wrong++;
        map.set(key, line);
        table.addStaged(line);
      } else if (table.lineOf(found) !== first) wrong++;
    }
    expect(wrong).toBe(0);
    expect(table.size).toBe(map.size);
    expect(map.size).toBeGreaterThan(100_000);
    const copy = new KeyTable(table.data());
    expect(copy.size).toBe(table.size);
    for (let e = 0; e < table.size; e++) {
      const inCopy = table.findIn(copy, e);
      if (inCopy !== e || copy.lineOf(inCopy) !== table.lineOf(e)) wrong++;
    }
    expect(wrong).toBe(0);
    // The copy goes on taking keys.
    copy.stage(["new", "key"], [0, 1]);
    expect(copy.findStaged()).toBe(-1);
    const added = copy.addStaged(9);
    copy.stage(["new", "key"], [0, 1]);
    expect(copy.findStaged()).toBe(added);
    copy.stage([huge, "20250101"], [0, 1]);
    expect(copy.lineOf(copy.findStaged())).toBe(50_000);
  });

  it("has no key when a part is empty or there are no key columns", () => {
    const table = new KeyTable();
    expect(table.stage(["a", ""], [0, 1])).toBe(false);
    expect(table.stage(["a"], [])).toBe(false);
    expect(table.stage(["a"], [3])).toBe(false);
  });
});
