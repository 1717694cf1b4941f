/**
 * Converted records are counted per receiver per month when a transfer is sent, and the office's
 * inventory report shows the counts (the office bills on them).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadExport } from "../src/client/transfer-client.js";
import { EXAMPLE_DIR, expectStatus, firstLogin, startTestNode, type TestNode } from "./support/test-node.js";

let node: TestNode;
beforeAll(async () => {
  node = await startTestNode();
}, 120_000);
afterAll(async () => {
  await node.close();
});

describe("record counts for billing", () => {
  it("counts the sent transfer's records for its receiver this month, visible in the inventory CSV", async () => {
    const sender = node.client("sender");
    const office = node.client("office");
    const receiverAccount = node.account("receiver");
    await firstLogin(sender, node.account("sender").loginId, node.account("sender").password);
    await firstLogin(office, node.account("office").loginId, node.account("office").password);
    const link = node.ctx.db.prepare("SELECT receiver_id FROM links").get() as { receiver_id: string };
    const receiverId = link.receiver_id;
    const up = await uploadExport(sender, receiverId, readFileSync(join(EXAMPLE_DIR, "export.csv")));
    expectStatus(up, 201);
    const { transfer } = up.json as { transfer: { id: string; records: number } };
    const before = await office.get("/api/v1/admin/inventory.csv");
    const rowOf = (text: string) =>
      text.split("\r\n").find((l) => l.startsWith(`${receiverAccount.loginId},`)) ?? "";
    expect(rowOf(before.text).split(",").slice(-2)).toEqual(["0", "0"]);
    expectStatus(await sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
    const after = await office.get("/api/v1/admin/inventory.csv");
    expect(rowOf(after.text).split(",").slice(-2)).toEqual([String(transfer.records), "0"]);
  });
});
