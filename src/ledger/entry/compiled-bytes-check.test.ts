import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { LedgerError } from "../errors.js";
import { decodeEntry, encodeEntry, scanStoredEntry } from "./canonical-entry.js";
import { canonicalJson } from "./canonical-json.js";
import { compileBytesCheck } from "./compiled-bytes-check.js";
import { GENESIS_PREV, operationRecordSchema } from "./operation-record.js";

const hex = "ab".repeat(32);
const prev = "0123456789abcdef".repeat(4);
const common = {
  v: 1,
  time: "2025-04-01T09:00:00.000Z",
  actor: {
    id: "user-1",
    role: "sender",
    name: "Yamada",
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
  prev,
};
const file = { sha256: hex, bytes: 4096 };

/** One valid record of every type but `note` (free-form data: always decoded), every optional member present. */
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
  {
    ...common,
    type: "repair",
    node: "n1",
    range: { from: 0, to: 10 },
    sourceNode: "n2",
    what: ["entries", "tree"],
    checkpoint: { size: 10, root: hex },
    entries: 10,
    transfers: ["T-1"],
    chunks: [hex],
    unrepaired: [],
  },
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
const note = { ...common, type: "note", data: { a: [1, "x", null, true, { b: {} }] } };

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** `decodeEntry`'s verdict: the record, or the error code. */
function decoded(bytes: Uint8Array): { record?: unknown; code?: string } {
  try {
    return { record: decodeEntry(bytes) };
  } catch (error) {
    if (error instanceof LedgerError) return { code: error.code };
    throw error;
  }
}

/**
 * The property: bytes the scan accepts are JSON (`JSON.parse`), the JCS form of their value
 * (`canonicalJson`), a valid record (zod), and what `decodeEntry` returns — with the type and the
 * offset of prev the scan reports.
 */
function agrees(bytes: Uint8Array): boolean {
  const scanned = scanStoredEntry(bytes);
  if (scanned === null) return false;
  const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  const parsed = JSON.parse(text) as Record<string, unknown>;
  expect(canonicalJson(parsed)).toBe(text);
  expect(operationRecordSchema.safeParse(parsed).success).toBe(true);
  expect(decoded(bytes)).toEqual({ record: parsed });
  expect(scanned.kind).toBe(parsed["type"]);
  expect(text.slice(scanned.capturedAt, scanned.capturedAt + 66)).toBe(`"${String(parsed["prev"])}"`);
  return true;
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
  fc.string({ maxLength: 210 }),
  fc.stringMatching(/^[0-9a-fA-F]{63,65}$/),
  fc.integer(),
  fc.constantFrom(
    -1,
    0.5,
    2 ** 53,
    Number.MAX_SAFE_INTEGER,
    999_999_999_999_999,
    1_000_000_000_000_000,
    -0,
    "",
    "x".repeat(200),
    "x".repeat(201),
    "2025-04-01T09:00:00.000Z\n",
    "é",
    "a\u0000b",
    'q"uote',
    "back\\slash",
    "\u007f",
    [],
    {},
    ["payload", "payload"],
    ["payload", "data-key", "payload"],
  ),
);

describe("compileBytesCheck (stored operation records)", () => {
  it("accepts the JCS bytes of every sample, and of each with its optional members left out", () => {
    for (const sample of samples) {
      expect(agrees(encodeEntry(sample as never))).toBe(true);
      const bare = Object.fromEntries(
        Object.entries(sample).filter(([k]) => !["outcomeDesc", "requestId"].includes(k)),
      );
      expect(agrees(encodeEntry({ ...bare, actor: { id: "a", role: "admin" } } as never))).toBe(true);
    }
    expect(agrees(encodeEntry({ ...samples[0], prev: GENESIS_PREV } as never))).toBe(true);
    expect([...samples, note].map((s) => s["type"]).sort()).toEqual(
      operationRecordSchema.options.map((o) => o.shape.type.value).sort(),
    );
  });

  it("leaves to decodeEntry what is valid but not plain: a note's free-form data, non-ASCII, escapes, 16 digits", () => {
    const variants = [
      note,
      { ...samples[0], actor: { ...common.actor, name: "山田" } },
      { ...samples[0], outcomeDesc: 'say "ok"' },
      { ...samples[0], outcomeDesc: "tab\there" },
      { ...samples[0], file: { sha256: hex, bytes: Number.MAX_SAFE_INTEGER } },
    ];
    for (const record of variants) {
      const bytes = encodeEntry(record as never);
      expect(decoded(bytes).record).toBeDefined();
      expect(scanStoredEntry(bytes)).toBeNull();
    }
  });

  it("refuses each named kind of non-canonical or invalid text (decodeEntry refuses them too)", () => {
    const good = new TextDecoder().decode(encodeEntry(samples[0] as never));
    const cases: Record<string, string> = {
      "space after a colon": good.replace('"v":1', '"v": 1'),
      "newline at the end": `${good}\n`,
      "trailing garbage": `${good}x`,
      "a second value": `${good}{}`,
      truncated: good.slice(0, -1),
      "keys out of order": good.replace('"v":1', '"v":1,"type":"upload"').replace('"type":"upload",', ""),
      "duplicate key": good.replace('"v":1}', '"v":1,"v":1}'),
      "unknown key": good.replace('"v":1}', '"v":1,"w":1}'),
      "required member missing": good.replace(',"v":1}', "}"),
      "leading zero": good.replace('"bytes":4096', '"bytes":04096'),
      "minus zero": good.replace('"bytes":4096', '"bytes":-0'),
      "negative count": good.replace('"bytes":4096', '"bytes":-1'),
      fraction: good.replace('"bytes":4096', '"bytes":4096.0'),
      exponent: good.replace('"bytes":4096', '"bytes":4096e0'),
      "16 digits": good.replace('"bytes":4096', '"bytes":9007199254740993'),
      "upper-case hex": good.replace(prev, prev.toUpperCase()),
      "prev one digit short": good.replace(prev, prev.slice(1)),
      "escaped letter": good.replace('"upload"', '"uplo\\u0061d"'),
      "string as a number": good.replace('"bytes":4096', '"bytes":"4096"'),
      "unknown type": good.replace('"upload"', '"uploads"'),
      "version 2": good.replace('"v":1', '"v":2'),
      "null for an optional member": good.replace('"v":1}', '"v":1,"zz":null}'),
      "not an object": `[${good}]`,
      "empty object": "{}",
      empty: "",
      "control character": good.replace("node-a", "node\u0001a"),
      "too long an id": good.replace('"T-1"', `"${"T".repeat(201)}"`),
    };
    for (const [name, text] of Object.entries(cases)) {
      const bytes = utf8(text);
      expect({ name, scanned: scanStoredEntry(bytes) }).toEqual({ name, scanned: null });
      expect({ name, code: decoded(bytes).code }).not.toEqual({ name, code: undefined });
    }
    const huge = utf8(good.replace('"ok"', `"${"x".repeat(70_000)}"`));
    expect(scanStoredEntry(huge)).toBeNull();
  });

  it("never accepts what decodeEntry refuses or reads otherwise, whatever member is replaced, removed or added", () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...samples, note),
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
          // The value written three ways: JCS, JSON.stringify's member order, and indented.
          const jcs = canonicalJson(value);
          for (const text of [jcs, JSON.stringify(value), JSON.stringify(value, null, 1)]) {
            if (text === undefined) continue;
            if (agrees(utf8(text))) accepted++;
          }
        },
      ),
      { numRuns: 4000 },
    );
    // The fast path is actually taken for a good share of the (mostly still valid) values.
    expect(accepted).toBeGreaterThan(200);
  });

  it("never accepts damaged bytes that decodeEntry refuses: bytes set, inserted, deleted, or a slice repeated", () => {
    const encoded = samples.map((s) => encodeEntry(s as never));
    fc.assert(
      fc.property(
        fc.constantFrom(...encoded),
        fc.array(
          fc.record({
            how: fc.constantFrom("set", "insert", "delete", "repeat"),
            at: fc.nat(),
            byte: fc.oneof(
              fc.integer({ min: 0, max: 255 }),
              fc.constantFrom(...ascii('",:{}[]0123456789-.e \\')),
            ),
            length: fc.integer({ min: 1, max: 12 }),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        (original, edits) => {
          const bytes = Array.from(original);
          for (const { how, at, byte, length } of edits) {
            const i = at % (bytes.length + 1);
            if (how === "set" && i < bytes.length) bytes[i] = byte;
            else if (how === "insert") bytes.splice(i, 0, byte);
            else if (how === "delete") bytes.splice(i, length);
            else bytes.splice(i, 0, ...bytes.slice(i, i + length));
          }
          // Accepted means valid, canonical and read the same; refused, decodeEntry decides.
          agrees(Uint8Array.from(bytes));
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it("gives the same verdict on a Buffer and on a Uint8Array view into a larger buffer", () => {
    const bytes = encodeEntry(samples[3] as never);
    const larger = new Uint8Array(bytes.length + 10);
    larger.set(bytes, 5);
    expect(scanStoredEntry(larger.subarray(5, 5 + bytes.length))).toEqual(
      scanStoredEntry(Buffer.from(bytes)),
    );
    expect(scanStoredEntry(larger.subarray(5, 5 + bytes.length))).not.toBeNull();
  });

  it("refuses to compile zod features it does not implement", () => {
    const one = (shape: z.ZodRawShape) =>
      z.discriminatedUnion("t", [z.object({ t: z.literal("a"), ...shape }).strict()]);
    expect(() => compileBytesCheck(z.object({}), { capture: "p", maxBytes: 10 })).toThrow(/not supported/);
    expect(() => compileBytesCheck(one({ e: z.email() }), { capture: "p", maxBytes: 10 })).toThrow(
      /not supported/,
    );
    expect(() => compileBytesCheck(one({ s: z.string().length(3) }), { capture: "p", maxBytes: 10 })).toThrow(
      /not supported/,
    );
    const check = compileBytesCheck(one({ n: z.int().min(2) }), { capture: "n", maxBytes: 100 });
    expect(check(ascii('{"n":2,"t":"a"}'))).toEqual({ kind: "a", capturedAt: 5 });
    expect(check(ascii('{"n":1,"t":"a"}'))).toBeNull();
  });
});
