/** One ledger record of every kind (and every office action and refusal), for the FHIR and RFC 3881 tests. */
import { ADMIN_CODES, DENIAL_CODES } from "../../src/fhir/audit-codes.js";
import { operationRecordSchema, type OperationRecord } from "../../src/ledger/entry/operation-record.js";

const h = (c: string) => c.repeat(64);
export const sampleCommon = {
  v: 1 as const,
  time: "2026-12-01T09:00:00.000Z",
  actor: {
    id: "s-0001",
    role: "sender" as const,
    network: { address: "127.0.0.1", type: "ip" as const },
    certificate: h("c"),
    device: { keyId: "dev-1", signature: "c2ln" },
  },
  institution: "inst-s",
  outcome: "success" as const,
  requestId: "req-1",
  source: { observer: "node-1" },
  prev: h("0"),
};

/** One record of every kind, every office action and every refusal; all valid. */
export function sampleRecords(): OperationRecord[] {
  const file = { sha256: h("a"), bytes: 10 };
  const records: OperationRecord[] = [
    { ...sampleCommon, type: "upload", transfer: "tr_1", receiver: "inst-r", file },
    {
      ...sampleCommon,
      type: "conversion",
      transfer: "tr_1",
      input: file,
      output: { sha256: h("b"), bytes: 20 },
      records: { count: 3, root: h("d") },
      rejected: 0,
      mapping: { id: "m1", version: "v1" },
    },
    { ...sampleCommon, type: "send", transfer: "tr_1", receiver: "inst-r", file },
    { ...sampleCommon, type: "download", transfer: "tr_1", file, format: "csv" },
    { ...sampleCommon, type: "receipt", transfer: "tr_1", file },
    {
      ...sampleCommon,
      type: "deletion",
      transfer: "tr_1",
      reason: "received",
      erased: ["payload", "data-key"],
    },
    { ...sampleCommon, type: "login", method: "password" },
    {
      ...sampleCommon,
      type: "login",
      method: "password",
      outcome: "serious-failure",
      outcomeDesc: "locked after 5 failures",
    },
    { ...sampleCommon, type: "logout", reason: "user" },
    { ...sampleCommon, type: "logout", reason: "timeout" },
    { ...sampleCommon, type: "audit-query", query: "fhir AuditEvent?_count=10" },
    { ...sampleCommon, type: "repair", node: "node-2", range: { from: 1, to: 5 }, sourceNode: "node-3" },
    { ...sampleCommon, type: "note", data: { hello: "world" } },
    {
      ...sampleCommon,
      type: "seal",
      transfer: "tr_1",
      file,
      jws: "eyJhbGciOiJFUzI1NiJ9..c2ln",
      timestamp: { token: "MAA=", time: sampleCommon.time, tsa: "CN=kenshin TSA" },
    },
    {
      ...sampleCommon,
      type: "alert",
      kind: "auth-failures",
      count: 12,
      threshold: 10,
      windowMinutes: 5,
      subject: "s-0001",
    },
  ];
  for (const action of Object.keys(ADMIN_CODES) as (keyof typeof ADMIN_CODES)[]) {
    records.push({ ...sampleCommon, type: "admin", action, target: { kind: "account", id: "x-1" } });
  }
  for (const action of Object.keys(DENIAL_CODES) as (keyof typeof DENIAL_CODES)[]) {
    records.push({
      ...sampleCommon,
      type: "denial",
      action,
      code: "NOT_FOUND",
      outcome: "minor-failure",
      transfer: "tr_1",
    });
  }
  const system = { ...sampleCommon, actor: { id: "system", role: "system" as const }, institution: "-" };
  records.push({ ...system, type: "deletion", transfer: "tr_2", reason: "expired", erased: ["payload"] });
  for (const r of records) operationRecordSchema.parse(r);
  return records;
}
