import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { conversionRequest, noteRecord, sha, uploadRecord } from "../../../test/ledger/records.js";
import { canonicalBytes } from "./canonical-entry.js";
import { entryTemplate, fillPrev, TEMPLATE_PREV } from "./entry-template.js";
import type { OperationRecord, RecordInput } from "./operation-record.js";

const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));

describe("entry templates (prev filled in later)", () => {
  it("filled with any prev, the bytes are the canonical bytes of the record with that prev", () => {
    const records: RecordInput[] = [
      uploadRecord("T-1", sha("f")),
      noteRecord(7),
      conversionRequest("T-2", sha("a"), sha("b"), [sha("r1")]).record,
    ];
    fc.assert(
      fc.property(fc.constantFrom(...records), hex64, fc.string({ maxLength: 40 }), (record, prev, text) => {
        // Free text in the record, including text that looks like a prev member.
        const withText = {
          ...record,
          actor: { ...record.actor, id: `${text}"prev":"${prev}` },
        };
        const template = entryTemplate({ ...withText, v: 1, prev: TEMPLATE_PREV });
        expect(template).toBeDefined();
        if (template === undefined) return;
        const expected = canonicalBytes({ ...withText, v: 1, prev });
        expect(Buffer.from(fillPrev(template, prev)).equals(Buffer.from(expected))).toBe(true);
      }),
    );
  });

  it("the template is not changed by filling it, nor by the caller changing its record afterwards", () => {
    const record = { ...uploadRecord("T-1", sha("f")), v: 1, prev: TEMPLATE_PREV } as OperationRecord;
    const template = entryTemplate(record);
    if (template === undefined) throw new Error("no template");
    const before = Buffer.from(template.bytes);
    fillPrev(template, "a".repeat(64));
    (record as { transfer: string }).transfer = "T-999";
    expect(Buffer.from(template.bytes).equals(before)).toBe(true);
    expect(Buffer.from(fillPrev(template, "0".repeat(64))).toString()).toContain('"transfer":"T-1"');
  });

  it("a record holding the placeholder elsewhere gets no template", () => {
    const record = { ...uploadRecord("T-1", TEMPLATE_PREV), v: 1, prev: TEMPLATE_PREV } as OperationRecord;
    expect(entryTemplate(record)).toBeUndefined();
  });
});
