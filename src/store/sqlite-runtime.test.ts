import { describe, expect, it } from "vitest";
import { assertSqliteRuntime, needsNodeApiDriver } from "./sqlite-runtime.js";

describe("assertSqliteRuntime", () => {
  it("accepts better-sqlite3 12 on Node 20 and 24.18, and 13 on Node 24.19+", () => {
    expect(() => {
      assertSqliteRuntime("20.20.2", "12.11.1");
    }).not.toThrow();
    expect(() => {
      assertSqliteRuntime("24.18.1", "12.11.1");
    }).not.toThrow();
    expect(() => {
      assertSqliteRuntime("24.21.0", "13.2.0");
    }).not.toThrow();
    expect(() => {
      assertSqliteRuntime("26.1.0", "13.2.0");
    }).not.toThrow();
  });

  it("when Node ≥ 24.19 runs better-sqlite3 12 → STORE_RUNTIME_UNSUPPORTED", () => {
    expect(() => {
      assertSqliteRuntime("24.19.0", "12.11.1");
    }).toThrow(expect.objectContaining({ code: "STORE_RUNTIME_UNSUPPORTED" }));
    expect(needsNodeApiDriver("25.0.0")).toBe(true);
    expect(needsNodeApiDriver("22.23.2")).toBe(false);
  });

  it("accepts the combination this test run uses", () => {
    expect(() => {
      assertSqliteRuntime();
    }).not.toThrow();
  });
});
