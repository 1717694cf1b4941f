import { describe, expect, it } from "vitest";
import type { FullCheckResult } from "./full-check.js";
import { NodeHealth } from "./node-health.js";
import { startRollingCheck } from "./rolling-check.js";

const clean: FullCheckResult = { findings: [], size: 3, transfers: 0, chunks: 0 };
const damaged: FullCheckResult = {
  findings: [{ kind: "checkpoint", code: "LEDGER_CHECKPOINT_MISSING" }],
  size: 3,
  transfers: 0,
  chunks: 0,
};

describe("the rolling check", () => {
  it("quarantines on findings, and a later clean run of the whole copy lifts the quarantine", async () => {
    const health = new NodeHealth({ now: () => new Date() });
    const results = [damaged, damaged, clean];
    const seen: FullCheckResult[] = [];
    const rolling = startRollingCheck({
      intervalMs: 60_000,
      health,
      check: () => {
        const r = results.shift() ?? clean;
        seen.push(r);
        return r;
      },
    });
    try {
      await rolling.runNow();
      expect(health.state).toBe("quarantined");
      await rolling.runNow();
      expect(health.state).toBe("quarantined");
      expect(health.snapshot().lastFullCheck?.ok).toBe(false);
      await rolling.runNow();
      expect(health.state).toBe("healthy");
      expect(health.snapshot().findings).toEqual([]);
      expect(health.snapshot().lastFullCheck?.ok).toBe(true);
      expect(seen).toHaveLength(3);
    } finally {
      await rolling.stop();
    }
  });

  it("never lifts a repair in progress", async () => {
    const health = new NodeHealth({ now: () => new Date() });
    health.quarantine(damaged.findings);
    health.beginRepair();
    const rolling = startRollingCheck({ intervalMs: 60_000, health, check: () => clean });
    try {
      await rolling.runNow();
      expect(health.state).toBe("repairing");
    } finally {
      await rolling.stop();
    }
  });
});
