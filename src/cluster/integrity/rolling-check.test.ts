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

  it("a chunk finding alone goes to the repair without quarantining the node", async () => {
    const health = new NodeHealth({ now: () => new Date() });
    const states: string[] = [];
    health.onChange((h) => states.push(h.state));
    const chunk: FullCheckResult = {
      findings: [{ kind: "chunk", code: "STORE_CHUNK_HASH_MISMATCH", address: "ab".repeat(32) }],
      size: 3,
      transfers: 1,
      chunks: 4,
    };
    const handed: string[] = [];
    const rolling = startRollingCheck({
      intervalMs: 60_000,
      health,
      check: () => chunk,
      onDamage: (findings) => {
        handed.push(...findings.map((f) => f.kind));
        expect(health.serving()).toBe(true);
        return Promise.resolve();
      },
    });
    try {
      await rolling.runNow();
      expect(handed).toEqual(["chunk"]);
      expect(health.state).toBe("healthy");
      expect(states.filter((s) => s !== "healthy")).toEqual([]);
      expect(health.snapshot().lastFullCheck).toMatchObject({ ok: false, findings: 1 });
    } finally {
      await rolling.stop();
    }
    const both = startRollingCheck({
      intervalMs: 60_000,
      health,
      check: () => ({ ...chunk, findings: [...chunk.findings, ...damaged.findings] }),
    });
    try {
      await both.runNow();
      expect(health.state).toBe("quarantined");
      expect(health.snapshot().findings).toEqual(["checkpoint LEDGER_CHECKPOINT_MISSING"]);
    } finally {
      await both.stop();
    }
  });

  it("a quarantined node whose next run finds only a chunk rejoins (the rest of the copy is clean)", async () => {
    const health = new NodeHealth({ now: () => new Date() });
    health.quarantine(damaged.findings);
    const rolling = startRollingCheck({
      intervalMs: 60_000,
      health,
      check: () => ({
        findings: [{ kind: "chunk", code: "STORE_CHUNK_HASH_MISMATCH", address: "cd".repeat(32) }],
        size: 3,
        transfers: 1,
        chunks: 1,
      }),
    });
    try {
      await rolling.runNow();
      expect(health.state).toBe("healthy");
    } finally {
      await rolling.stop();
    }
  });
});
