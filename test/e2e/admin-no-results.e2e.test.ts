/**
 * The office (admin) cannot reach any result. With a transfer of the example export sent, downloaded
 * and confirmed (through the API, as the two parties' own software would), the office logs in in chromium
 * and goes through every admin page, runs the mapping test with the example export as its sample, and
 * downloads the inventory: no examinee ID, name, kana or ticket number of the export appears in any page
 * (visible text or HTML) or in the inventory — also not on the audit viewer and the account page, and no page
 * shows an internal institution ID where a name belongs. The transfer's own URLs — the UI's /transfers/<id> and the
 * API's detail and trail — answer the office exactly as for a transfer that does not exist.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { downloadStandard, uploadExport } from "../../src/client/transfer-client.js";
import { firstLogin as apiFirstLogin, type TestNode } from "../support/test-node.js";
import {
  EXPORT_PATH,
  MAPPING_PATH,
  exampleExport,
  exportValues,
  found,
  institutionOf,
  needlesOf,
} from "../support/transfer-fixtures.js";
import { saveScreenshot } from "./support/browser.js";
import { useE2eSuite } from "./support/e2e-suite.js";
import { apiGet, downloadBytes, expectHeading, firstLogin } from "./support/ui-steps.js";

const SENDER_NAME = "さくら健診センター (デモ)";

/** A transfer of the example export, sent, downloaded and confirmed by the demo parties. */
async function completedTransfer(node: TestNode): Promise<{ id: string; standard: Uint8Array }> {
  const sender = node.client("sender");
  const receiver = node.client("receiver");
  for (const [client, role] of [
    [sender, "sender"],
    [receiver, "receiver"],
  ] as const) {
    const a = node.account(role);
    await apiFirstLogin(client, a.loginId, a.password);
  }
  const upload = await uploadExport(sender, await institutionOf(receiver), exampleExport());
  expect(upload.status).toBe(201);
  const id = (upload.json as { transfer: { id: string } }).transfer.id;
  expect((await sender.post(`/api/v1/transfers/${id}/send`)).status).toBe(200);
  const downloaded = await downloadStandard(receiver, id);
  if (!("bytes" in downloaded)) throw new Error(`download refused: ${downloaded.refused.status}`);
  expect((await receiver.post(`/api/v1/transfers/${id}/receipt`)).status).toBe(200);
  return { id, standard: downloaded.bytes };
}

describe("the office in chromium", () => {
  const suite = useE2eSuite();
  const values = exportValues();
  const needles = needlesOf(values);

  /** Every export value found in the page's visible text or its HTML. */
  async function valuesOnPage(page: Page): Promise<string[]> {
    const text = await page.locator("body").innerText();
    const html = await page.content();
    return values.filter((v) => text.includes(v) || html.includes(v));
  }

  it("browses every admin page, the mapping test run and the inventory without seeing any examinee value", async () => {
    expect(values.length).toBeGreaterThan(20);
    const node = suite.node();
    const { id: transferId, standard } = await completedTransfer(node);
    // The values looked for are really in the result (so not finding them below means something).
    expect(found(standard, needles).length).toBeGreaterThan(10);

    const context = suite.problems.watchContext(await suite.browser().newPersonContext("office"));
    const page = await context.newPage();
    const { landing } = await firstLogin(page, node.account("office"), { deviceLabel: "事務局のパソコン" });
    expect(landing).toBe("/admin");

    await expectHeading(page, "事務局");
    const institutions = page.getByRole("table", { name: "機関の一覧" });
    await institutions.getByText(SENDER_NAME).waitFor();
    // Each institution with its login ID, last login and mapping — and no internal ID on the page.
    const senderRow = institutions.getByRole("row").filter({ hasText: SENDER_NAME });
    const senderText = (await senderRow.textContent()) ?? "";
    expect(senderText).toContain(node.account("sender").loginId);
    expect(senderText).toContain("さくら健診センター 健診システム標準出力");
    expect(senderText).toMatch(/\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}/);
    expect(await page.locator("main").innerText()).not.toMatch(/inst_[a-z2-7]{16}/);
    expect(await valuesOnPage(page)).toEqual([]);
    await saveScreenshot(page, "admin");

    // The mapping test run with the example export as its sample: counts and codes only.
    await page.getByLabel("機関", { exact: true }).selectOption({ label: `${SENDER_NAME} (1312345678)` });
    await page.getByLabel("マッピングファイル", { exact: true }).setInputFiles(MAPPING_PATH);
    await page.getByLabel("試験用サンプル (任意)", { exact: true }).setInputFiles(EXPORT_PATH);
    await page.getByRole("button", { name: "試験変換して登録" }).click();
    const sampleResult = page.getByRole("table", { name: "試験変換の結果" });
    await sampleResult.waitFor();
    expect(await sampleResult.textContent()).toContain("RECORD_KEY_MISSING");
    expect(await valuesOnPage(page)).toEqual([]);
    await saveScreenshot(page, "admin-mapping-test");

    // The inventory report.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "棚卸表をダウンロード" }).click(),
    ]);
    const inventory = await downloadBytes(download);
    expect(inventory.length).toBeGreaterThan(0);
    expect(found(inventory, needles)).toEqual([]);

    for (const [link, heading, shot] of [
      ["証明書", "証明書", "admin-certificates"],
      ["監視", "監視", "admin-monitoring"],
      ["操作の記録", "操作の記録", "admin-audit"],
      ["アカウント", "アカウント", undefined],
      ["機関と利用者ID", "事務局", undefined],
    ] as const) {
      await page.getByRole("navigation").getByRole("link", { name: link, exact: true }).click();
      await expectHeading(page, heading);
      // Each admin page shows its data in tables: read the page once they are there.
      await page.getByRole("table").first().waitFor();
      await page.waitForLoadState("networkidle");
      expect(await valuesOnPage(page)).toEqual([]);
      // Institutions by name, never by internal ID.
      expect(await page.locator("main").innerText()).not.toMatch(/inst_[a-z2-7]{16}/);
      if (shot !== undefined) await saveScreenshot(page, shot);
    }
    // The certificates and the monitoring tables name the institutions.
    await page.goto("/admin/certificates");
    await page
      .getByRole("table", { name: "証明書" })
      .getByRole("cell", { name: SENDER_NAME })
      .first()
      .waitFor();
    // The audit viewer shows the transfer's operations by kind, filterable by institution.
    await page.goto("/admin/audit");
    const audit = page.getByRole("table", { name: "操作の記録 (新しい順)" });
    await audit.getByRole("row").filter({ hasText: "受領確定" }).first().waitFor();
    await page.getByLabel("機関", { exact: true }).selectOption({ label: SENDER_NAME });
    await expect
      .poll(async () =>
        (await audit.locator("tbody tr").allTextContents()).every((t) => t.includes(SENDER_NAME)),
      )
      .toBe(true);
    expect(await valuesOnPage(page)).toEqual([]);
    // The monitoring view counts the transfer without showing its content.
    await page.goto("/admin/monitoring");
    await expectHeading(page, "監視");
    await page.getByRole("cell", { name: transferId }).first().waitFor();
    expect(await valuesOnPage(page)).toEqual([]);

    // The transfer's URLs answer the office as for a transfer that does not exist.
    const missing = "tr_aaaaaaaaaaaaaaaa";
    for (const suffix of ["", "/trail"]) {
      const real = await apiGet(page, `/api/v1/transfers/${transferId}${suffix}`);
      const none = await apiGet(page, `/api/v1/transfers/${missing}${suffix}`);
      expect(real.status).toBe(404);
      expect(real).toEqual(none);
    }
    for (const path of [`/transfers/${transferId}`, "/transfers", "/send", "/verify"]) {
      await page.goto(path);
      await expectHeading(page, "ページが見つかりません");
      expect(await valuesOnPage(page)).toEqual([]);
    }

    await context.close();
    expect(suite.problems.messages).toEqual([]);
  });
});
