/**
 * The life of one transfer over real HTTPS: enveloped upload → conversion → 送信確定 → enveloped
 * download of the exact standard CSV → 受領確定, with the trail verifiable against the signed
 * checkpoint.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiClient } from "../src/client/api-client.js";
import { downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import { sha256Hex } from "../src/format/hash.js";
import { EXAMPLE_DIR, expectStatus, firstLogin, startTestNode, type TestNode } from "./support/test-node.js";

let node: TestNode;
let sender: ApiClient;
let receiver: ApiClient;
let receiverId: string;

beforeAll(async () => {
  node = await startTestNode();
  sender = node.client("sender");
  receiver = node.client("receiver");
  const s = node.account("sender");
  const r = node.account("receiver");
  await firstLogin(sender, s.loginId, s.password);
  await firstLogin(receiver, r.loginId, r.password);
  const session = await receiver.get("/api/v1/session");
  receiverId = (session.json as { institution: { id: string } }).institution.id;
}, 120_000);

afterAll(async () => {
  await node.close();
});

describe("a transfer from upload to receipt", () => {
  it("uploads, converts, sends; the receiver downloads the exact standard CSV and confirms receipt", async () => {
    const exportBytes = await readFile(join(EXAMPLE_DIR, "export.csv"));
    const up = await uploadExport(sender, receiverId, exportBytes);
    expectStatus(up, 201);
    const { transfer, report } = up.json as {
      transfer: { id: string; status: string; standard: { sha256: string } };
      report: { counts: { recordsOut: number } };
    };
    expect(transfer.status).toBe("converted");
    expect(report.counts.recordsOut).toBeGreaterThan(0);

    // Not visible to the receiver before 送信確定.
    expect((await receiver.get(`/api/v1/transfers/${transfer.id}`)).status).toBe(404);
    expectStatus(await sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);

    const list = await receiver.get("/api/v1/transfers");
    expect((list.json as { transfers: { id: string }[] }).transfers.map((t) => t.id)).toContain(transfer.id);
    const down = await downloadStandard(receiver, transfer.id);
    if ("refused" in down) throw new Error(`download refused: ${down.refused.text}`);
    expect(sha256Hex(down.bytes)).toBe(transfer.standard.sha256);

    expectStatus(await receiver.post(`/api/v1/transfers/${transfer.id}/receipt`), 200);
    const trail = await receiver.get(`/api/v1/transfers/${transfer.id}/trail`);
    expectStatus(trail, 200);
    const types = (trail.json as { entries: { entry: { type: string } }[] }).entries.map((e) => e.entry.type);
    expect(types).toEqual(["upload", "conversion", "send", "download", "receipt"]);
  });
});
