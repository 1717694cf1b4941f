/**
 * Monitoring alerts (L6) of every kind beside the failed-login burst (monitoring-alerts.int.test.ts),
 * over real mutual TLS: more downloads, more audit reads (FHIR AuditEvent searches) and more audit
 * exports inside the window than the configured threshold each become exactly one alert entry of that
 * kind — naming the account that caused most of it — an AuditEvent of type Security Alert and a line on
 * the office's monitoring view; staying at or below a threshold raises nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiClient } from "../src/client/api-client.js";
import { downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import type { AuditEvent } from "../src/fhir/audit-event.js";
import type { SearchsetBundle } from "../src/fhir/bundle.js";
import type { OperationRecord } from "../src/ledger/entry/operation-record.js";
import { exportAuditEvents } from "../src/service/audit/audit-export.js";
import type { TransferView } from "../src/service/transfers/view.js";
import { expectValidFhir } from "./support/fhir-validator.js";
import { expectStatus, ledgerRecords, type TestNode } from "./support/test-node.js";
import { exampleExport, startTransferNode, type TransferNode } from "./support/transfer-fixtures.js";

type Alert = Extract<OperationRecord, { type: "alert" }>;

let t: TransferNode;
let node: TestNode;
let transfer: TransferView;

beforeAll(async () => {
  t = await startTransferNode({
    config: {
      alerts: { windowMinutes: 10, authFailures: 100, downloads: 2, exports: 1, auditReads: 3 },
    },
  });
  node = t.node;
  const up = await uploadExport(t.sender, t.receiverId, exampleExport());
  expectStatus(up, 201);
  transfer = (up.json as { transfer: TransferView }).transfer;
  expectStatus(await t.sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
}, 180_000);

afterAll(async () => {
  await node.close();
});

const alerts = (kind?: Alert["kind"]): Alert[] =>
  ledgerRecords(node.ctx).filter(
    (r): r is Alert => r.type === "alert" && (kind === undefined || r.kind === kind),
  );

async function download(client: ApiClient): Promise<void> {
  const r = await downloadStandard(client, transfer.id);
  expect("bytes" in r).toBe(true);
}

describe("alerts of every kind", () => {
  it("downloads: at the threshold nothing, one more raises one alert naming the receiver's account", async () => {
    await download(t.receiver);
    await download(t.receiver);
    expect(alerts()).toEqual([]);
    await download(t.receiver);
    const [alert, ...more] = alerts("downloads");
    expect(more).toEqual([]);
    expect(alert).toMatchObject({
      kind: "downloads",
      count: 3,
      threshold: 2,
      windowMinutes: 10,
      subject: node.account("receiver").loginId,
      outcome: "minor-failure",
    });
    // Inside the window: no second alert of the kind.
    await download(t.receiver);
    expect(alerts("downloads")).toHaveLength(1);
    expect(alerts()).toHaveLength(1);
  });

  it("audit reads: FHIR AuditEvent searches beyond the threshold raise one alert naming the reader", async () => {
    for (let i = 0; i < 3; i++) expectStatus(await t.sender.get("/fhir/AuditEvent?_count=1"), 200);
    expect(alerts("audit-reads")).toEqual([]);
    expectStatus(await t.sender.get("/fhir/AuditEvent?_count=1"), 200);
    expect(alerts("audit-reads")).toEqual([
      expect.objectContaining({ count: 4, threshold: 3, subject: node.account("sender").loginId }),
    ]);
    expectStatus(await t.sender.get("/fhir/AuditEvent?_count=1"), 200);
    expect(alerts("audit-reads")).toHaveLength(1);
  });

  it("exports: a second audit export inside the window raises one alert; exports are not counted as reads", async () => {
    const actor = { loginId: "console:auditor", institutionId: "-", role: "system" as const };
    const day = new Date(node.ctx.now().getTime() + 9 * 3_600_000).toISOString().slice(0, 10);
    const sink: string[] = [];
    const o = { from: day, to: day, format: "fhir" as const };
    await exportAuditEvents(node.ctx, actor, o, (text) => sink.push(text));
    expect(alerts("exports")).toEqual([]);
    await exportAuditEvents(node.ctx, actor, o, (text) => sink.push(text));
    expect(alerts("exports")).toEqual([
      expect.objectContaining({ count: 2, threshold: 1, subject: "console:auditor" }),
    ]);
    expect(sink.join("").length).toBeGreaterThan(0);
    expect(alerts("audit-reads")).toHaveLength(1);
  });

  it("each alert is an AuditEvent (Security Alert, valid FHIR) and a line on the office's monitoring view", async () => {
    const r = await t.office.get("/fhir/AuditEvent?subtype=monitoring-alert");
    expectStatus(r, 200);
    expectValidFhir(r.json);
    const events = ((r.json as SearchsetBundle<AuditEvent>).entry ?? []).map((e) => e.resource);
    const kindOf = (e: AuditEvent) =>
      e.entity?.flatMap((x) => x.detail ?? []).find((d) => d.type === "kind")?.valueString;
    expect(events.map(kindOf).sort()).toEqual(["audit-reads", "downloads", "exports"]);
    for (const e of events) {
      expect(e.type.code).toBe("110113");
      expect(e.outcome).toBe("4");
    }
    const mon = await t.office.get("/api/v1/admin/monitoring");
    expectStatus(mon, 200);
    const lines = (mon.json as { alerts: { kind: string; count: number; threshold: number }[] }).alerts;
    expect(lines.map((a) => a.kind).sort()).toEqual(["audit-reads", "downloads", "exports"]);
    expect(lines.find((a) => a.kind === "downloads")).toMatchObject({ count: 3, threshold: 2 });
  });
});
