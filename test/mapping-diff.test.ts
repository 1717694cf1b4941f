import { describe, expect, it } from "vitest";
import { lineDiff, MAX_DIFF_LINES } from "../web/src/mapping-diff.js";

describe("lineDiff", () => {
  it("marks removed and added lines and keeps the common ones", () => {
    expect(lineDiff("a\nb\nc", "a\nx\nc\nd")).toEqual([
      { kind: "same", text: "a" },
      { kind: "removed", text: "b" },
      { kind: "added", text: "x" },
      { kind: "same", text: "c" },
      { kind: "added", text: "d" },
    ]);
    expect(lineDiff("same\r\n", "same\n")?.every((l) => l.kind === "same")).toBe(true);
  });

  it("refuses texts over the bound instead of working for minutes", () => {
    expect(lineDiff("x\n".repeat(MAX_DIFF_LINES + 1), "y")).toBeUndefined();
  });
});
