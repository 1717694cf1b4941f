import { setImmediate as nextTask } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { releaseMemoryAfter } from "./release-memory.js";

describe("releaseMemoryAfter", () => {
  it("collects unreachable memory after a large step, and does nothing after a small one", async () => {
    // Small, so nothing but the asked-for collection would take it this soon.
    let held: { bytes: Uint8Array } | undefined = { bytes: new Uint8Array(16) };
    const ref = new WeakRef(held);
    await nextTask();
    held = undefined;
    await nextTask();
    expect(releaseMemoryAfter(1024)).toBe(false);
    expect(releaseMemoryAfter(64 * 1024 * 1024)).toBe(true);
    await nextTask();
    expect(ref.deref()).toBeUndefined();
    expect(held).toBeUndefined();
  });
});
