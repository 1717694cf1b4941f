/**
 * The patient entity (L2, IHE BALP) over real mutual TLS: a 3-patient file (the example export cut to
 * three examinees) gives, for each entry that touched the data (upload, conversion, send, download,
 * receipt), 3 AuditEvents — one per patient, each with exactly that patient (entity type 1, role 1,
 * named by the SHA-256 of their standard record, nothing personal). `patient=` finds a patient's events
 * for both parties, not for a stranger; the office sees the hashes and no personal data; each event
 * reads by id; paging never splits an entry; the auditor export holds one event per patient.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiClient, ApiResponse } from "../src/client/api-client.js";
import { downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import type { AuditEvent } from "../src/fhir/audit-event.js";
import type { SearchsetBundle } from "../src/fhir/bundle.js";
import { SYSTEM } from "../src/fhir/systems.js";
import { exportAuditEvents } from "../src/service/audit/audit-export.js";
import type { TransferView } from "../src/service/transfers/view.js";
import { expectValidFhir } from "./support/fhir-validator.js";
import { expectCode, expectStatus, type TestNode } from "./support/test-node.js";
import {
  convertLocally,
  createLoggedInReceiver,
  exampleExport,
  exportValues,
  found,
  needlesOf,
  startTransferNode,
  type TransferNode,
} from "./support/transfer-fixtures.js";

let t: TransferNode;
let node: TestNode;
let stranger: ApiClient;
let transfer: TransferView;
let patients: string[];
let threePatients: Buffer;

/** The example export's title and header lines and its first three examinees. */
function firstThree(bytes: Buffer): Buffer {
  let at = 0;
  for (let lines = 0; lines < 5; lines++) at = bytes.indexOf(0x0a, at) + 1;
  return bytes.subarray(0, at);
}

type Bundle = SearchsetBundle<AuditEvent>;
function fhir(r: ApiResponse): Bundle {
  expect(r.status, r.text).toBe(200);
  expectValidFhir(r.json);
  return r.json as Bundle;
}
const path = (url: string): string => url.slice(url.indexOf("/fhir/"));

async function searchAll(client: ApiClient, query: string): Promise<{ events: AuditEvent[]; pages: number }> {
  const events: AuditEvent[] = [];
  let next: string | undefined = `/fhir/AuditEvent?${query}`;
  let pages = 0;
  for (; next !== undefined && pages < 50; pages++) {
    const bundle = fhir(await client.get(next));
    events.push(...(bundle.entry ?? []).map((e) => e.resource));
    const link = bundle.link.find((l) => l.relation === "next");
    next = link === undefined ? undefined : path(link.url);
  }
  return { events, pages };
}

const patientsIn = (e: AuditEvent) =>
  (e.entity ?? []).filter((x) => x.role?.code === "1" && x.type?.code === "1");
const ledgerIndexOf = (e: AuditEvent) =>
  e.entity?.find((x) => x.name === "ledger entry")?.what?.identifier?.value;

beforeAll(async () => {
  t = await startTransferNode();
  node = t.node;
  threePatients = firstThree(exampleExport());
  const local = await convertLocally(threePatients);
  patients = [...local.summary.recordHashes];
  const up = await uploadExport(t.sender, t.receiverId, threePatients);
  expectStatus(up, 201);
  transfer = (up.json as { transfer: TransferView }).transfer;
  expectStatus(await t.sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
  const down = await downloadStandard(t.receiver, transfer.id);
  expect("bytes" in down).toBe(true);
  expectStatus(await t.receiver.post(`/api/v1/transfers/${transfer.id}/receipt`), 200);
  stranger = (await createLoggedInReceiver(node, t.office, "関係のない保険者")).client;
}, 180_000);

afterAll(async () => {
  await node.close();
});

describe("one AuditEvent per patient", () => {
  it("the file has 3 patients: the conversion committed to the 3 record hashes we compute", () => {
    expect(patients).toHaveLength(3);
    expect(transfer.records).toBe(3);
  });

  it("patient= finds, for each patient, one event per entry that touched the data, with that patient only", async () => {
    const perEntry = new Map<string, Set<string>>();
    for (const hash of patients) {
      const { events } = await searchAll(t.receiver, `patient=${hash}&_count=100`);
      const kinds = events.map((e) => [e.type.code, e.subtype?.[0]?.code, e.action]);
      // upload, conversion, send, download, receipt — newest first.
      expect(kinds).toEqual([
        ["110107", "disclose", "C"],
        ["110106", "disclose", "R"],
        ["110106", "disclose", "U"],
        ["rest", "operation", "E"],
        ["rest", "create", "C"],
      ]);
      for (const e of events) {
        const [p, ...more] = patientsIn(e);
        expect(more).toEqual([]);
        expect(p?.what?.identifier).toEqual({ system: SYSTEM.recordSha256, value: hash });
        expect(e.id).toMatch(/^e\d+-p[0-2]$/);
        const entry = ledgerIndexOf(e) ?? "";
        perEntry.set(entry, (perEntry.get(entry) ?? new Set()).add(e.id));
      }
    }
    // Each of the 5 entries has exactly 3 events, one per patient.
    expect([...perEntry.values()].map((ids) => ids.size)).toEqual([3, 3, 3, 3, 3]);
    // The sender finds the same; the system|value form works too.
    const mine = await searchAll(t.sender, `patient=${SYSTEM.recordSha256}|${patients[0] ?? ""}`);
    expect(mine.events).toHaveLength(5);
  });

  it("a stranger finds nothing; the office finds the hashes and no personal data", async () => {
    for (const hash of patients) {
      expect((await searchAll(stranger, `patient=${hash}`)).events).toEqual([]);
    }
    const office = await t.office.get(`/fhir/AuditEvent?patient=${patients.join(",")}&_count=100`);
    const bundle = fhir(office);
    expect(bundle.entry ?? []).toHaveLength(15);
    expect(found(Buffer.from(office.text), needlesOf(exportValues(threePatients)))).toEqual([]);
  });

  it("each per-patient event reads by id; a stranger and an unknown position get the same 404", async () => {
    const { events } = await searchAll(t.receiver, `patient=${patients[2] ?? ""}`);
    const one = events[0] as AuditEvent;
    const r = await t.receiver.get(`/fhir/AuditEvent/${one.id}`);
    expect(r.status).toBe(200);
    expectValidFhir(r.json);
    expect(r.json).toEqual(one);
    expectCode(await stranger.get(`/fhir/AuditEvent/${one.id}`), 404, "NOT_FOUND");
    expectCode(await t.receiver.get(`/fhir/AuditEvent/${one.id.replace(/p\d+$/, "p3")}`), 404, "NOT_FOUND");
  });

  it("paging by _count walks every event of the three patients without splitting an entry", async () => {
    const all = await searchAll(t.receiver, `patient=${patients.join(",")}&_count=100`);
    expect(all.events).toHaveLength(15);
    const paged = await searchAll(t.receiver, `patient=${patients.join(",")}&_count=4`);
    expect(paged.pages).toBeGreaterThan(3);
    expect(paged.events.map((e) => e.id)).toEqual(all.events.map((e) => e.id));
  });

  it("the auditor export holds the entry's event and one per patient", async () => {
    const day = new Date(node.ctx.now().getTime() + 9 * 3_600_000).toISOString().slice(0, 10);
    const lines: string[] = [];
    await exportAuditEvents(
      node.ctx,
      { loginId: "console:auditor", institutionId: "-", role: "system" },
      { from: day, to: day, format: "fhir" },
      (text) => lines.push(...text.split("\n").filter((l) => l !== "")),
    );
    const events = lines.map((l) => JSON.parse(l) as AuditEvent);
    const download = events.filter(
      (e) => e.type.code === "110106" && e.action === "R" && ledgerIndexOf(e) !== undefined,
    );
    expect(download.filter((e) => patientsIn(e).length === 0)).toHaveLength(1);
    expect(
      download
        .flatMap(patientsIn)
        .map((p) => p.what?.identifier?.value)
        .sort(),
    ).toEqual([...patients].sort());
    for (const e of download) expectValidFhir(e);
  });
});
