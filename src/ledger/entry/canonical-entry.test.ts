import { describe, expect, it } from "vitest";
import { expectCode } from "../../../test/ledger/expect-code.js";
import { noteRecord, uploadRecord, sha } from "../../../test/ledger/records.js";
import { utf8 } from "../verify/encoding.js";
import { decodeEntry, encodeEntry } from "./canonical-entry.js";
import { GENESIS_PREV, type OperationRecord } from "./operation-record.js";

const record = { ...uploadRecord("T-1", sha("f")), v: 1, prev: GENESIS_PREV } as OperationRecord;

describe("canonical entries (RFC 8785)", () => {
  it("encodes with sorted keys and no whitespace, and decodes back to the same record", () => {
    const bytes = encodeEntry(record);
    const text = new TextDecoder().decode(bytes);
    expect(text.startsWith('{"actor":{"id":"user-1","network":')).toBe(true);
    expect(text).not.toMatch(/\s/);
    expect(decodeEntry(bytes)).toEqual(record);
  });

  it("the same record with another key order or spacing → LEDGER_ENTRY_NOT_CANONICAL", () => {
    const pretty = utf8(JSON.stringify(record, null, 1));
    expectCode(() => decodeEntry(pretty), "LEDGER_ENTRY_NOT_CANONICAL");
  });

  it("unknown fields, a bad hash or an unknown type → LEDGER_ENTRY_INVALID", () => {
    expectCode(
      () => encodeEntry({ ...record, extra: 1 } as unknown as OperationRecord),
      "LEDGER_ENTRY_INVALID",
    );
    expectCode(() => encodeEntry({ ...record, prev: "ABC" }), "LEDGER_ENTRY_INVALID");
    expectCode(
      () => encodeEntry({ ...record, type: "teleport" } as unknown as OperationRecord),
      "LEDGER_ENTRY_INVALID",
    );
    expectCode(() => decodeEntry(utf8("not json")), "LEDGER_ENTRY_INVALID");
  });

  it("an entry over 64 KiB → LEDGER_ENTRY_TOO_LARGE", () => {
    const big = {
      ...noteRecord(1),
      v: 1,
      prev: GENESIS_PREV,
      data: { s: "x".repeat(70_000) },
    } as OperationRecord;
    expectCode(() => encodeEntry(big), "LEDGER_ENTRY_TOO_LARGE");
  });
});
