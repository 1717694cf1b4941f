/**
 * The office's mapping editor API over real HTTPS: a draft is checked with Japanese messages and the
 * place of the problem; a sample run returns counts and issue codes only (no value of the export);
 * a draft is suggested from a sample; every saved version is kept and listed; a kept version can be
 * read (for the diff) and made active; saving and activating are ledger entries; others are refused.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  exampleExport,
  exportValues,
  MAPPING_PATH,
  startTransferNode,
  type TransferNode,
} from "./support/transfer-fixtures.js";
import { expectStatus, ledgerRecords } from "./support/test-node.js";

let t: TransferNode;
const mappingText = readFileSync(MAPPING_PATH, "utf8");
beforeAll(async () => {
  t = await startTransferNode();
}, 120_000);
afterAll(async () => {
  await t.node.close();
});

interface Check {
  ok: boolean;
  message?: string;
  where?: string;
  sample?: { recordsOut: number; issueCounts: Record<string, unknown> };
}

describe("mapping editor API", () => {
  it("checks a draft: a Japanese message with the place, or the test run's counts and codes only", async () => {
    const bad = await t.office.post("/api/v1/admin/mappings/check", {
      mapping: mappingText.replace("layout: wide", "layout: wide\nlayuot: x"),
    });
    expectStatus(bad, 200);
    const badCheck = (bad.json as { check: Check }).check;
    expect(badCheck).toMatchObject({ ok: false, where: "(root)" });
    expect(badCheck.message).toContain("「layuot」という設定はありません");
    expect(badCheck.message).toContain("もしかして「layout」");

    const sample = exampleExport();
    const good = await t.office.post("/api/v1/admin/mappings/check", {
      mapping: mappingText,
      sample: sample.toString("base64"),
    });
    expectStatus(good, 200);
    const check = (good.json as { check: Check }).check;
    expect(check.ok).toBe(true);
    expect(check.sample?.recordsOut).toBe(9);
    expect(Object.keys(check.sample?.issueCounts ?? {})).toContain("VALUE_THESAURUS_UNKNOWN");
    // Counts and codes only: no value of the export, no issue message.
    for (const v of exportValues(sample)) expect(good.text).not.toContain(v);
    expect(good.text).not.toContain("message");
  });

  it("suggests a draft from a sample without personal values", async () => {
    const r = await t.office.post("/api/v1/admin/mappings/suggest", {
      sample: exampleExport().toString("base64"),
      name: "下書き",
    });
    expectStatus(r, 200);
    const draft = (r.json as { draft: string }).draft;
    expect(draft).toContain("item: ecg-finding");
    for (const v of exportValues(exampleExport())) expect(draft).not.toContain(v);
  });

  it("keeps every version, shows one, activates one; saving and activating are on the ledger", async () => {
    const base = `/api/v1/admin/institutions/${t.senderId}/mappings`;
    const v1 = await t.office.post(base, { mapping: mappingText, activate: true });
    expectStatus(v1, 201);
    const second = mappingText.replace("name: さくら健診センター 健診システム標準出力", "name: 第2版");
    const v2 = await t.office.post(base, { mapping: second, activate: false });
    expectStatus(v2, 201);
    const id1 = (v1.json as { version: { id: string } }).version.id;
    const id2 = (v2.json as { version: { id: string } }).version.id;
    const list = (await t.office.get(base)).json as { versions: { id: string; active: boolean }[] };
    expect(list.versions.filter((v) => v.id === id1 || v.id === id2)).toHaveLength(2);
    expect(list.versions.find((v) => v.id === id1)?.active).toBe(true);
    const text = (await t.office.get(`${base}/${id2}`)).json as { version: { body: string } };
    expect(text.version.body).toBe(second);
    expectStatus(await t.office.post(`${base}/${id2}/activate`), 200);
    const after = (await t.office.get(base)).json as { versions: { id: string; active: boolean }[] };
    expect(after.versions.filter((v) => v.active).map((v) => v.id)).toEqual([id2]);
    const entries = ledgerRecords(t.node.ctx).filter(
      (r) => r.type === "admin" && r.action === "mapping.update" && [id1, id2].includes(r.target.id),
    );
    expect(entries.map((r) => (r.type === "admin" ? r.target.id : ""))).toEqual([id1, id2, id2]);
    // A bad draft is not saved.
    const refused = await t.office.post(base, { mapping: "format: nope\n", activate: true });
    expect(refused.status).toBe(422);
  });

  it("is the office's: a sender is refused", async () => {
    const r = await t.sender.post("/api/v1/admin/mappings/check", { mapping: mappingText });
    expect(r.status).toBe(403);
  });
});
