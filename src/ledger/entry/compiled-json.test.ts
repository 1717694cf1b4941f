import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "./canonical-json.js";
import { compileCheck } from "./compiled-check.js";
import { compileJsonWriter } from "./compiled-json.js";
import { GENESIS_PREV, operationRecordSchema } from "./operation-record.js";

const isValid = compileCheck(operationRecordSchema);
const write = compileJsonWriter(operationRecordSchema);

const text = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.constantFrom("x\uD800y", "\uDC00", "\uD83D\uDE00", '"\\\n\u2028', "\u0000"),
);
const count = fc.oneof(fc.nat(), fc.constantFrom(0, -0, Number.MAX_SAFE_INTEGER));

/** Records of several types with members in random order, optional members present or not. */
const records = fc
  .record(
    {
      type: fc.constantFrom("upload", "conversion", "login", "note", "deletion", "denial", "alert"),
      id: text,
      name: fc.option(text, { nil: undefined }),
      desc: fc.option(text, { nil: undefined }),
      n: count,
      data: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
      order: fc.nat(),
    },
    { requiredKeys: ["type", "id", "n", "data", "order"] },
  )
  .map(({ type, id, name, desc, n, data, order }) => {
    const file = { bytes: n, sha256: "ab".repeat(32) };
    const members: [string, unknown][] = [
      ["v", 1],
      ["time", "2025-04-01T09:00:00.000Z"],
      ["actor", { role: "sender", id: id === "" ? "x" : id, name }],
      ["institution", "1312345678"],
      ["outcome", "success"],
      ["outcomeDesc", desc],
      ["source", { observer: "node-a" }],
      ["prev", GENESIS_PREV],
      ["type", type],
    ];
    const extra: Record<string, [string, unknown][]> = {
      upload: [
        ["transfer", "T"],
        ["receiver", "R"],
        ["file", file],
      ],
      conversion: [
        ["transfer", "T"],
        ["input", file],
        ["output", { sha256: "cd".repeat(32) }],
        ["records", { root: "ef".repeat(32), count: n }],
        ["rejected", n],
      ],
      login: [["method", "password"]],
      note: [["data", data]],
      deletion: [
        ["transfer", "T"],
        ["reason", "expired"],
        ["erased", ["payload", "data-key"]],
      ],
      denial: [
        ["action", "download"],
        ["code", "ACCESS_DENIED"],
      ],
      alert: [
        ["kind", "downloads"],
        ["count", n],
        ["threshold", n],
        ["windowMinutes", 5],
        ["subject", name],
      ],
    };
    const all = [...members, ...(extra[type] ?? [])];
    // Members in a random order: the writer must sort them as JCS does.
    for (let i = all.length - 1; i > 0; i--) {
      const j = (order + i * 7919) % (i + 1);
      [all[i], all[j]] = [all[j] as [string, unknown], all[i] as [string, unknown]];
    }
    return Object.fromEntries(all);
  });

describe("compileJsonWriter (operation records)", () => {
  it("writes exactly canonicalJson's text for every record the compiled check accepts", () => {
    let checked = 0;
    fc.assert(
      fc.property(records, (record) => {
        if (!isValid(record)) return;
        checked++;
        expect(write(record)).toBe(canonicalJson(record));
      }),
      { numRuns: 3000 },
    );
    expect(checked).toBeGreaterThan(1000);
  });

  it("says a record with a lone surrogate is not JSON, as canonicalJson does", () => {
    const record = {
      v: 1,
      type: "login",
      method: "password",
      time: "2025-04-01T09:00:00.000Z",
      actor: { id: "a\uD800", role: "sender" },
      institution: "1",
      outcome: "success",
      source: { observer: "n" },
      prev: GENESIS_PREV,
    };
    expect(isValid(record)).toBe(true);
    expect(write(record)).toBeUndefined();
    expect(canonicalJson(record)).toBeUndefined();
  });
});
