import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { canonicalJson } from "./canonical-json.js";
import { compileCheck } from "./compiled-check.js";
import { GENESIS_PREV, operationRecordSchema, type OperationRecord } from "./operation-record.js";

const hex = "ab".repeat(32);
const common = {
  v: 1,
  time: "2025-04-01T09:00:00.000Z",
  actor: {
    id: "user-1",
    role: "sender",
    name: "山田",
    network: { address: "192.0.2.1", type: "ip" },
    certificate: hex,
    device: {
      keyId: "dev-1",
      signature: "c2ln",
      request: {
        method: "POST",
        path: "/api/v1/transfers/T-1/send",
        bodySha256: hex,
        ts: 1743498000000,
        nonce: "A".repeat(22),
      },
      key: { x: "x".repeat(43), y: "y".repeat(43) },
    },
  },
  institution: "1312345678",
  outcome: "success",
  outcomeDesc: "ok",
  requestId: "req-1",
  source: { observer: "node-a", site: "tokyo" },
  prev: GENESIS_PREV,
};
const file = { sha256: hex, bytes: 4096 };

/** One valid record of every type, with every optional member present. */
const samples: Record<string, unknown>[] = [
  { ...common, type: "upload", transfer: "T-1", receiver: "INS-2", file },
  {
    ...common,
    type: "conversion",
    transfer: "T-1",
    input: file,
    output: { sha256: hex },
    records: { count: 3, root: hex },
    rejected: 0,
    mapping: { id: "m", version: "1" },
  },
  { ...common, type: "send", transfer: "T-1", receiver: "INS-2", file },
  { ...common, type: "download", transfer: "T-1", file, format: "csv" },
  { ...common, type: "receipt", transfer: "T-1", file },
  { ...common, type: "deletion", transfer: "T-1", reason: "expired", erased: ["payload", "data-key"] },
  { ...common, type: "login", method: "password" },
  { ...common, type: "logout", reason: "user" },
  { ...common, type: "admin", action: "account.create", target: { kind: "account", id: "a-1" } },
  { ...common, type: "audit-query", query: "transfer:T-1" },
  { ...common, type: "denial", action: "download", code: "ACCESS_DENIED", transfer: "T-1" },
  { ...common, type: "repair", node: "n1", range: { from: 0, to: 10 }, sourceNode: "n2" },
  { ...common, type: "note", data: { a: [1, 2.5, "x", null, true, { b: {} }], c: -0 } },
  {
    ...common,
    type: "seal",
    transfer: "T-1",
    file,
    jws: "eyJhbGciOiJFUzI1NiJ9..c2ln",
    timestamp: { token: "MIIB+w==", time: "2025-04-01T09:00:00.000Z", tsa: "tsa" },
  },
  { ...common, type: "alert", kind: "downloads", count: 5, threshold: 3, windowMinutes: 10, subject: "x" },
];

const isValid = compileCheck(operationRecordSchema);

/** The compiled check may only say yes when zod accepts the value and returns the same content. */
function agrees(value: unknown): void {
  const zod = operationRecordSchema.safeParse(value);
  if (isValid(value)) {
    expect(zod.success).toBe(true);
    // Same content (a null-prototype object in, a plain one out, is the same JSON).
    expect(zod.data).toEqual(value);
  }
}

/** Paths to every member (objects and arrays) of a value. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== "object" || value === null) return [prefix];
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return [
    prefix,
    ...keys.flatMap((k) => paths((value as Record<string | number, unknown>)[k], [...prefix, k])),
  ];
}

function replaced(value: unknown, path: readonly (string | number)[], by: unknown, remove: boolean): unknown {
  const copy: unknown = structuredClone(value);
  if (path.length === 0) return by;
  let at = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (remove) Reflect.deleteProperty(at, last);
  else at[last] = by;
  return copy;
}

const strange = fc.oneof(
  fc.jsonValue(),
  fc.string({ maxLength: 520 }),
  fc.stringMatching(/^[0-9a-fA-F]{63,65}$/),
  fc.constantFrom(
    undefined,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    -1,
    0.5,
    2 ** 53,
    Number.MAX_SAFE_INTEGER,
    -0,
    "",
    "x".repeat(200),
    "x".repeat(201),
    "2025-04-01T09:00:00.000Z\n",
    [],
    {},
    ["payload", "payload"],
    new Date(0),
    Object.create(null) as unknown,
    JSON.parse('{"__proto__": 1}') as unknown,
  ),
);

describe("compileCheck (operation records)", () => {
  it("accepts every sample record, as zod does, and with all optional members left out", () => {
    for (const sample of samples) {
      expect(operationRecordSchema.safeParse(sample).success).toBe(true);
      expect(isValid(sample)).toBe(true);
      const bare = Object.fromEntries(
        Object.entries(sample).filter(([k]) => !["outcomeDesc", "requestId"].includes(k)),
      );
      expect(isValid(bare)).toBe(true);
      expect(isValid({ ...sample, requestId: undefined })).toBe(true);
    }
    expect(samples.map((s) => s["type"]).sort()).toEqual(
      operationRecordSchema.options.map((o) => o.shape.type.value).sort(),
    );
  });

  it("never accepts what zod refuses or would change, whatever member is replaced, removed or added", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.nat(),
        strange,
        fc.constantFrom("replace", "remove", "add"),
        fc.string({ maxLength: 12 }),
        (sample, pick, by, how, key) => {
          const all = paths(sample);
          const path = all[pick % all.length] as (string | number)[];
          const value =
            how === "add"
              ? replaced(sample, [...path.slice(0, -1), key], by, false)
              : replaced(sample, path, by, how === "remove");
          agrees(value);
          // Where zod accepts a plain JSON value unchanged, so does the compiled check.
          const zod = operationRecordSchema.safeParse(value);
          const text = JSON.stringify(value) as string | undefined;
          const plain: unknown = JSON.parse(text ?? "null");
          if (zod.success && text?.includes("__proto__") === false) {
            expect(isValid(plain)).toBe(operationRecordSchema.safeParse(plain).success);
          }
        },
      ),
      { numRuns: 5000 },
    );
  });

  it("leaves odd inputs to zod: symbol keys and __proto__ in a note's data, non-plain data", () => {
    const note = samples.find((s) => s["type"] === "note") as OperationRecord;
    for (const data of [
      { [Symbol("s")]: 1 },
      JSON.parse('{"__proto__": {"a": 1}}') as unknown,
      new Map(),
      Object.assign(Object.create({ inherited: 1 }) as object, { a: 1 }),
    ]) {
      const value = { ...note, data };
      expect(isValid(value)).toBe(false);
      agrees(value);
    }
    expect(isValid({ ...note, data: Object.assign(Object.create(null) as object, { a: 1 }) })).toBe(true);
  });

  it("with sortedKeys: accepts exactly what the plain check accepts whose keys are all in JCS order", () => {
    const sortedDeep = (value: unknown): boolean => {
      if (typeof value !== "object" || value === null) return true;
      if (Array.isArray(value)) return value.every(sortedDeep);
      const keys = Object.keys(value);
      for (let i = 1; i < keys.length; i++) if ((keys[i - 1] as string) >= (keys[i] as string)) return false;
      return keys.every((k) => sortedDeep((value as Record<string, unknown>)[k]));
    };
    const isSortedValid = compileCheck(operationRecordSchema, { sortedKeys: true });
    // Members in a random order, at every level, and the odd values above put in anywhere.
    const shuffled = (value: unknown, seed: number): unknown => {
      if (typeof value !== "object" || value === null) return value;
      if (Array.isArray(value)) return value.map((v, i) => shuffled(v, seed + i));
      const entries = Object.entries(value);
      const order = entries.map((e, i) => ({ e, k: ((i + 1) * 2654435761 * (seed + 1)) % 97 }));
      if (seed % 3 !== 0) order.sort((a, b) => a.k - b.k);
      return Object.fromEntries(order.map(({ e: [k, v] }) => [k, shuffled(v, seed + k.length)]));
    };
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.nat(),
        fc.nat(),
        strange,
        fc.boolean(),
        (sample, seed, pick, by, change) => {
          const all = paths(sample);
          const base = change
            ? replaced(sample, all[pick % all.length] as (string | number)[], by, false)
            : sample;
          const inOrder = JSON.parse(canonicalJson(base) ?? "null") as unknown;
          for (const value of [base, shuffled(base, seed), inOrder, shuffled(inOrder, seed)]) {
            expect(isSortedValid(value)).toBe(isValid(value) && sortedDeep(value));
          }
        },
      ),
      { numRuns: 3000 },
    );
    // Both answers occur: the samples as written (not in order) and in JCS order.
    expect(samples.some((x) => isValid(x) && !isSortedValid(x))).toBe(true);
    expect(samples.every((x) => isSortedValid(JSON.parse(canonicalJson(x) ?? "null") as unknown))).toBe(true);
  });

  it("refuses to compile zod features it does not implement", () => {
    expect(() => compileCheck(z.email())).toThrow(/not supported/);
    expect(() => compileCheck(z.uuid())).toThrow(/not supported/);
    expect(compileCheck(z.int())(1.5)).toBe(false);
    expect(compileCheck(z.int())(2)).toBe(true);
    expect(() => compileCheck(z.looseObject({ a: z.string() }))).toThrow(/not supported/);
    expect(() => compileCheck(z.string().transform((s) => s.length))).toThrow(/not supported/);
    expect(() => compileCheck(z.object({ a: z.string() }).refine(() => true))).toThrow(/not supported/);
  });
});
