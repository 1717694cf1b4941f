/**
 * Issue 11: a transfer whose payload no copy could repair. The node's repair marks it damaged through
 * its health (`NodeHealth.markDamaged`, what `cluster/integrity/repair.ts` calls) and raises the alarm
 * through its `onUnrepairable` callback (the service's `unrepairableAlarm`). Then both parties see it in
 * the API (detail and list carry `damaged: true`; `repairing: true` while a chunk is fetched from a peer), every download and the seal of a send are refused
 * with the coded TRANSFER_DAMAGED (recorded as a denial) and no byte is served, and the office's
 * monitoring shows one `transfer-damaged` alert naming the transfer and nothing of its results.
 * Another transfer of the same parties is untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiClient } from "../src/client/api-client.js";
import { downloadEcheckup, downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import { NodeHealth } from "../src/cluster/integrity/node-health.js";
import { damageView, unrepairableAlarm } from "../src/service/transfers/damage.js";
import type { TransferView } from "../src/service/transfers/view.js";
import {
  convertLocally,
  exampleExport,
  exportValues,
  startTransferNode,
  type TransferNode,
} from "./support/transfer-fixtures.js";
import { expectCode, expectStatus, ledgerRecords } from "./support/test-node.js";

let t: TransferNode;
const health = new NodeHealth({ now: () => new Date() });
let damaged: TransferView;
let intact: TransferView;
let unsent: TransferView;
let standard: Buffer;

async function upload(): Promise<TransferView> {
  const up = await uploadExport(t.sender, t.receiverId, exampleExport());
  expectStatus(up, 201);
  return (up.json as { transfer: TransferView }).transfer;
}

async function detail(client: ApiClient, id: string): Promise<TransferView> {
  const r = await client.get(`/api/v1/transfers/${id}`);
  expectStatus(r, 200);
  return (r.json as { transfer: TransferView }).transfer;
}

async function listedViews(client: ApiClient): Promise<Map<string, TransferView>> {
  const r = await client.get("/api/v1/transfers");
  expectStatus(r, 200);
  return new Map((r.json as { transfers: TransferView[] }).transfers.map((x) => [x.id, x]));
}

async function listed(client: ApiClient): Promise<Map<string, boolean>> {
  return new Map([...(await listedViews(client))].map(([id, x]) => [id, x.damaged]));
}

beforeAll(async () => {
  t = await startTransferNode({ damage: health });
  standard = (await convertLocally(exampleExport())).bytes;
  damaged = await upload();
  intact = await upload();
  unsent = await upload();
  for (const tr of [damaged, intact]) {
    expectStatus(await t.sender.post(`/api/v1/transfers/${tr.id}/send`), 200);
  }
}, 120_000);

afterAll(async () => {
  await t.node.close();
});

describe("a transfer damaged on every copy", () => {
  it("before the mark it is served like any other", async () => {
    expect((await detail(t.sender, damaged.id)).damaged).toBe(false);
    const got = await downloadStandard(t.receiver, damaged.id);
    if ("refused" in got) throw new Error(`refused: ${got.refused.status}`);
    expect(Buffer.from(got.bytes).equals(standard)).toBe(true);
  });

  it("while a chunk of it is repaired from a peer: refused with the retryable 503 TRANSFER_REPAIRING and shown as repairing to both parties, then served", async () => {
    health.holdTransfer(intact.id);
    try {
      const held = await downloadStandard(t.receiver, intact.id);
      if (!("refused" in held)) throw new Error("served while its chunk was being repaired");
      expectCode(held.refused, 503, "TRANSFER_REPAIRING");
      // Only that transfer: the other one of the same parties is served meanwhile.
      const other = await downloadStandard(t.receiver, damaged.id);
      if ("refused" in other) throw new Error(`refused: ${other.refused.status}`);
      // Both parties see the hold in the detail and in their lists (the same source as the refusal).
      for (const client of [t.sender, t.receiver]) {
        expect(await detail(client, intact.id)).toMatchObject({ damaged: false, repairing: true });
        expect(await detail(client, damaged.id)).toMatchObject({ damaged: false, repairing: false });
        const list = await listedViews(client);
        expect(list.get(intact.id)).toMatchObject({ damaged: false, repairing: true });
        expect(list.get(damaged.id)).toMatchObject({ repairing: false });
      }
    } finally {
      health.releaseTransfer(intact.id);
    }
    expect(await detail(t.receiver, intact.id)).toMatchObject({ repairing: false });
    expect((await listedViews(t.sender)).get(intact.id)).toMatchObject({ repairing: false });
    const got = await downloadStandard(t.receiver, intact.id);
    if ("refused" in got) throw new Error(`refused: ${got.refused.status}`);
    expect(Buffer.from(got.bytes).equals(standard)).toBe(true);
  });

  it("marked by the repair's function: both parties see it in the detail and in their lists", async () => {
    health.markDamaged(damaged.id);
    health.markDamaged(unsent.id);
    for (const client of [t.sender, t.receiver]) {
      expect(await detail(client, damaged.id)).toMatchObject({ id: damaged.id, damaged: true });
      expect(await detail(client, intact.id)).toMatchObject({ id: intact.id, damaged: false });
      const list = await listed(client);
      expect(list.get(damaged.id)).toBe(true);
      expect(list.get(intact.id)).toBe(false);
    }
    expect((await listed(t.sender)).get(unsent.id)).toBe(true);
  });

  it("every download is refused with TRANSFER_DAMAGED (a denial entry), the intact transfer still downloads", async () => {
    const before = ledgerRecords(t.node.ctx).length;
    const csv = await downloadStandard(t.receiver, damaged.id);
    if (!("refused" in csv)) throw new Error("served a damaged transfer");
    expectCode(csv.refused, 410, "TRANSFER_DAMAGED");
    const fhir = await downloadEcheckup(t.receiver, damaged.id);
    if (!("refused" in fhir)) throw new Error("served a damaged transfer as FHIR");
    expectCode(fhir.refused, 410, "TRANSFER_DAMAGED");
    const after = ledgerRecords(t.node.ctx).slice(before);
    expect(after.filter((r) => r.type === "download")).toEqual([]);
    const codes = after.flatMap((r) => (r.type === "denial" ? [r.code] : []));
    expect(codes).toEqual(["TRANSFER_DAMAGED", "TRANSFER_DAMAGED"]);
    const ok = await downloadStandard(t.receiver, intact.id);
    if ("refused" in ok) throw new Error(`refused: ${ok.refused.status}`);
    expect(Buffer.from(ok.bytes).equals(standard)).toBe(true);
  });

  it("a damaged transfer not sent yet cannot be sent (its stored file is never sealed)", async () => {
    expectCode(await t.sender.post(`/api/v1/transfers/${unsent.id}/send`), 410, "TRANSFER_DAMAGED");
    expect((await detail(t.sender, unsent.id)).status).toBe("converted");
  });

  it("the alarm: one transfer-damaged alert on the office's monitoring, without result data", async () => {
    const alarm = unrepairableAlarm(t.node.ctx);
    // Two bad chunks of one transfer (or two nodes finding the same damage): one alert.
    await alarm({ transfer: damaged.id, address: "a".repeat(64) });
    await alarm({ transfer: damaged.id, address: "b".repeat(64) });
    const mon = await t.office.get("/api/v1/admin/monitoring");
    expectStatus(mon, 200);
    const alerts = (mon.json as { alerts: { kind: string; subject?: string }[] }).alerts;
    expect(alerts.filter((a) => a.kind === "transfer-damaged")).toEqual([
      expect.objectContaining({ kind: "transfer-damaged", subject: damaged.id, count: 1 }),
    ]);
    const text = JSON.stringify(mon.json);
    expect(exportValues().filter((v) => text.includes(v))).toEqual([]);
    const entries = ledgerRecords(t.node.ctx).filter(
      (r) => r.type === "alert" && r.kind === "transfer-damaged",
    );
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ outcome: "serious-failure", institution: "-" });
  });

  it("the alarm's command made the mark durable: service.db alone says damaged (no health needed)", () => {
    const durable = damageView(t.node.ctx.db);
    expect(durable.isDamaged(damaged.id)).toBe(true);
    expect(durable.isDamaged(intact.id)).toBe(false);
    // unsent was marked in memory only (no alarm for it): the durable view does not know it.
    expect(durable.isDamaged(unsent.id)).toBe(false);
  });
});
