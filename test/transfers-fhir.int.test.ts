/**
 * The receiver's FHIR download over real HTTPS: after 送信確定 the same transfer can be fetched as
 * NDJSON of JP eCheckup Bundles (one per examinee), enveloped like the CSV; each Bundle passes the
 * FHIR R4 base validator and the IG rules; the ledger records the download as format fhir-bundle; the
 * sender cannot fetch it, and a transfer not yet sent is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadEcheckup, downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import { checkEcheckupBundle } from "../src/fhir/echeckup/ig-rules.js";
import { recordHashesOf } from "../src/format/hash.js";
import type { TransferView } from "../src/service/transfer-view.js";
import { expectValidFhir } from "./support/fhir-validator.js";
import { exampleExport, startTransferNode, type TransferNode } from "./support/transfer-fixtures.js";
import { expectStatus, ledgerRecords } from "./support/test-node.js";

let t: TransferNode;
beforeAll(async () => {
  t = await startTransferNode();
}, 120_000);
afterAll(async () => {
  await t.node.close();
});

async function upload(): Promise<TransferView> {
  const up = await uploadExport(t.sender, t.receiverId, exampleExport());
  expectStatus(up, 201);
  return (up.json as { transfer: TransferView }).transfer;
}

describe("FHIR eCheckup download", () => {
  it("a sent transfer downloads as valid eCheckup Bundles, one per record, recorded as fhir-bundle", async () => {
    const transfer = await upload();
    expectStatus(await t.sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
    const csv = await downloadStandard(t.receiver, transfer.id);
    if ("refused" in csv) throw new Error(`csv refused ${csv.refused.status}`);
    const records = recordHashesOf(csv.bytes).length;
    const down = await downloadEcheckup(t.receiver, transfer.id);
    if ("refused" in down) throw new Error(`fhir refused ${down.refused.status} ${down.refused.text}`);
    const lines = new TextDecoder().decode(down.bytes).trimEnd().split("\n");
    expect(lines).toHaveLength(records);
    expect(lines[0]).toContain('"name":"さくら健診センター (デモ)"'); // Organization.name, as registered
    for (const line of lines) {
      const bundle = JSON.parse(line) as { entry: { resource: unknown }[] };
      expect(checkEcheckupBundle(bundle)).toEqual([]);
      expectValidFhir(bundle);
      for (const e of bundle.entry) expectValidFhir(e.resource);
    }
    const downloads = ledgerRecords(t.node.ctx).filter(
      (r) => r.type === "download" && "transfer" in r && r.transfer === transfer.id,
    );
    expect(downloads.map((r) => ("format" in r ? r.format : undefined))).toEqual(["csv", "fhir-bundle"]);
  });

  it("the sender cannot fetch it, and a transfer not yet sent is refused", async () => {
    const transfer = await upload();
    const early = await downloadEcheckup(t.receiver, transfer.id);
    expect("refused" in early && early.refused.status).toBeGreaterThanOrEqual(400);
    expectStatus(await t.sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
    const bySender = await downloadEcheckup(t.sender, transfer.id);
    expect("refused" in bySender && bySender.refused.status).toBeGreaterThanOrEqual(400);
  });
});
