import { describe, expect, it } from "vitest";
import { NodeHealth } from "./node-health.js";

const at = () => new Date("2026-12-01T09:00:00.000Z");

describe("node health (quarantine)", () => {
  it("healthy serves; a finding quarantines (CLUSTER_QUARANTINED) until a repair rejoins it", () => {
    const h = new NodeHealth({ now: at });
    const seen: string[] = [];
    h.onChange((s) => seen.push(s.state));
    expect(h.serving()).toBe(true);
    h.quarantine([{ kind: "chunk", code: "STORE_CHUNK_HASH_MISMATCH", address: "ab".repeat(32) }]);
    expect(() => {
      h.assertServing();
    }).toThrow(expect.objectContaining({ code: "CLUSTER_QUARANTINED" }) as Error);
    expect(h.snapshot().findings).toEqual([`chunk STORE_CHUNK_HASH_MISMATCH (chunk ${"ab".repeat(8)})`]);
    h.beginRepair();
    expect(h.serving()).toBe(false);
    h.repairFailed();
    expect(h.state).toBe("quarantined");
    h.beginRepair();
    h.rejoin({
      at: at().toISOString(),
      what: ["chunks"],
      fromNode: "node1",
      checkpointSize: 10,
      entryIndex: 11,
    });
    expect(h.snapshot()).toMatchObject({ state: "healthy", findings: [], repairs: [{ entryIndex: 11 }] });
    expect(seen).toEqual(["quarantined", "repairing", "quarantined", "repairing", "healthy"]);
  });

  it("no findings changes nothing; damaged transfers stay marked after rejoining", () => {
    const h = new NodeHealth({ now: at });
    h.quarantine([]);
    expect(h.state).toBe("healthy");
    h.markDamaged("tr_1");
    h.rejoin();
    expect(h.isDamaged("tr_1")).toBe(true);
    expect(h.snapshot().damagedTransfers).toEqual(["tr_1"]);
  });

  it("a node catching up that then finds damage is quarantined", () => {
    const h = new NodeHealth({ now: at });
    h.catchingUp();
    expect(h.state).toBe("catching-up");
    h.quarantine([{ kind: "entry", code: "LEDGER_ENTRY_MISSING", index: 4 }]);
    expect(h.state).toBe("quarantined");
  });

  it("holds a transfer while its chunk is repaired (counted), and records a repair without a state change", () => {
    const h = new NodeHealth({ now: at });
    h.holdTransfer("tr_1");
    h.holdTransfer("tr_1");
    expect(h.isRepairing("tr_1")).toBe(true);
    expect(h.serving()).toBe(true);
    h.releaseTransfer("tr_1");
    expect(h.isRepairing("tr_1")).toBe(true);
    h.releaseTransfer("tr_1");
    expect(h.isRepairing("tr_1")).toBe(false);
    h.quarantine([{ kind: "entry", code: "LEDGER_LEAF_MISMATCH", index: 3 }]);
    h.recordRepair({ at: at().toISOString(), what: ["chunks"], fromNode: "node1", checkpointSize: 0 });
    expect(h.state).toBe("quarantined");
    expect(h.snapshot().repairs).toEqual([
      { at: at().toISOString(), what: ["chunks"], fromNode: "node1", checkpointSize: 0 },
    ]);
  });
});
