/**
 * The receiver's FHIR download over real HTTPS: after 送信確定 the same transfer can be fetched as
 * NDJSON of JP eCheckup Bundles (one per examinee), enveloped like the CSV; each Bundle passes the
 * FHIR R4 base validator and the IG rules; the ledger records the download as format fhir-bundle; the
 * sender cannot fetch it, and a transfer not yet sent is refused. The CSV download with the JLAC10 code
 * header row (`?codeHeader=1`), as the CLI's `--code-header` writes it, is the same file plus that one
 * line, recorded as csv-code-header.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadEcheckup, downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import { checkEcheckupBundle } from "../src/fhir/echeckup/ig-rules.js";
import { loadDictionary, DEFAULT_DICTIONARY_PATH } from "../src/format/dictionary.js";
import { recordHashesOf } from "../src/format/hash.js";
import { codeHeaderCells, encodeLine } from "../src/format/standard-csv.js";
import { ECHECKUP_SUMMARY_HEADER } from "../src/server/routes/transfer-routes.js";
import type { TransferView } from "../src/service/transfers/view.js";
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
    // The 基準値 of the mapping version that converted the file (the example's: 中性脂肪 30–149).
    const first = JSON.parse(lines[0] ?? "{}") as { entry: { resource: Record<string, unknown> }[] };
    const tg = first.entry.find((e) =>
      JSON.stringify(e.resource["code"] ?? "").includes("3F015000002327101"),
    );
    expect(tg?.resource["referenceRange"]).toMatchObject([{ low: { value: 30 }, high: { value: 149 } }]);
    // What the Bundles leave out comes with them, as item keys and counts (no values).
    const summary = JSON.parse(String(down.response.headers[ECHECKUP_SUMMARY_HEADER])) as {
      bundles: number;
      skippedRecords: number[];
      omittedItems: { key: string; reason: string; records: number }[];
    };
    expect(summary.bundles).toBe(records);
    expect(summary.skippedRecords).toEqual([]);
    expect(summary.omittedItems.map((o) => o.key)).toContain("judgement-overall");
  });

  it("the CSV with the JLAC10 code header row: the same file plus that line, recorded as csv-code-header", async () => {
    const transfer = await upload();
    expectStatus(await t.sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
    const plain = await downloadStandard(t.receiver, transfer.id);
    const coded = await downloadStandard(t.receiver, transfer.id, { codeHeader: true });
    if ("refused" in plain || "refused" in coded) throw new Error("refused");
    const dictionary = await loadDictionary(DEFAULT_DICTIONARY_PATH);
    const row = Buffer.concat([encodeLine(codeHeaderCells(dictionary), "utf-8"), Buffer.from("\r\n")]);
    const plainBytes = Buffer.from(plain.bytes);
    const headerEnd = plainBytes.indexOf("\r\n") + 2;
    expect(Buffer.from(coded.bytes)).toEqual(
      Buffer.concat([plainBytes.subarray(0, headerEnd), row, plainBytes.subarray(headerEnd)]),
    );
    expect(row.toString("latin1")).toMatch(/^JLAC10,,9N001000000000001,|,9N001000000000001,/);
    expect(recordHashesOf(coded.bytes)).toEqual(recordHashesOf(plain.bytes)); // the records are untouched
    const formats = ledgerRecords(t.node.ctx)
      .filter((r) => r.type === "download" && "transfer" in r && r.transfer === transfer.id)
      .map((r) => ("format" in r ? r.format : undefined));
    expect(formats).toEqual(["csv", "csv-code-header"]);
    // Anything but 0 or 1 is a coded refusal, and nothing is recorded.
    const bad = await t.receiver.post(`/api/v1/transfers/${transfer.id}/download?codeHeader=yes`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.json)).toContain("REQUEST_INVALID");
    expect(
      ledgerRecords(t.node.ctx).filter(
        (r) => r.type === "download" && "transfer" in r && r.transfer === transfer.id,
      ),
    ).toHaveLength(2);
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
