import { describe, expect, it } from "vitest";
import type { OperationRecord } from "../../ledger/entry/operation-record.js";
import { differingColumns, TransferProjection } from "./transfer-projection.js";

const h = (c: string) => c.repeat(64);
const base = {
  v: 1 as const,
  time: "2026-12-01T09:00:00.000Z",
  actor: { id: "u", role: "sender" as const },
  institution: "S1",
  outcome: "success" as const,
  source: { observer: "node1" },
  prev: h("0"),
  transfer: "tr_1",
};
const upload: OperationRecord = {
  ...base,
  type: "upload",
  receiver: "R1",
  file: { sha256: h("a"), bytes: 10 },
};
const conversion: OperationRecord = {
  ...base,
  type: "conversion",
  input: { sha256: h("a"), bytes: 10 },
  output: { sha256: h("b"), bytes: 5 },
  records: { count: 3, root: h("c") },
  rejected: 1,
  mapping: { id: "m1", version: "v" },
};
const file = { sha256: h("b"), bytes: 5 };
const send: OperationRecord = { ...base, type: "send", receiver: "R1", file };
const download: OperationRecord = { ...base, type: "download", file, format: "csv" };
const receipt: OperationRecord = { ...base, type: "receipt", file };

function fold(...records: OperationRecord[]) {
  const p = new TransferProjection();
  for (const r of records) p.apply(r);
  return p;
}

describe("what a transfer row must say, from its entries", () => {
  it("upload + conversion: converted, with the parties, files, counts and mapping", () => {
    expect(fold(upload, conversion).get("tr_1")).toEqual({
      id: "tr_1",
      sender_id: "S1",
      receiver_id: "R1",
      status: "converted",
      mapping_id: "m1",
      original_sha256: h("a"),
      original_bytes: 10,
      standard_sha256: h("b"),
      standard_bytes: 5,
      records: 3,
      rows_rejected: 1,
    });
  });

  it("status follows the service: sent, downloaded once, received; a later download keeps received", () => {
    expect(fold(upload, conversion, send).get("tr_1")?.status).toBe("sent");
    expect(fold(upload, conversion, send, download).get("tr_1")?.status).toBe("downloaded");
    expect(fold(upload, conversion, send, download, receipt, download).get("tr_1")?.status).toBe("received");
  });

  it("deletion: discarded when cancelled, deleted otherwise", () => {
    const del = (reason: "cancelled" | "expired"): OperationRecord => ({
      ...base,
      type: "deletion",
      reason,
      erased: ["payload", "data-key"],
    });
    expect(fold(upload, conversion, del("cancelled")).get("tr_1")?.status).toBe("discarded");
    expect(fold(upload, conversion, send, del("expired")).get("tr_1")?.status).toBe("deleted");
  });

  it("a send naming another receiver is a conflict, not a silent change", () => {
    const p = fold(upload, conversion, { ...send, receiver: "R2" });
    expect(p.hasConflict("tr_1")).toBe(true);
    expect(p.get("tr_1")?.status).toBe("converted");
  });

  it("names the differing committed columns only (times and the report are not committed)", () => {
    const expected = fold(upload, conversion, send).get("tr_1");
    if (expected === undefined) throw new Error("no row");
    const row = { ...expected, status: "received", receiver_id: "R9", created_at: "x", report_json: "{}" };
    expect(differingColumns(row, expected)).toEqual(["receiver_id", "status"]);
  });
});
