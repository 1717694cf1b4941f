/**
 * The office's mapping editor in chromium: paste a mapping with a typo and see the Japanese message
 * with its place while typing, fix it, draft one from the example export, test it on the sample
 * (counts and issue codes only — no examinee value anywhere on the page), see the diff with the
 * active version, save and activate; the version list shows both versions and the ledger has them.
 */
import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { ledgerRecords } from "../support/test-node.js";
import { EXPORT_PATH, MAPPING_PATH, exportValues } from "../support/transfer-fixtures.js";
import { saveScreenshot } from "./support/browser.js";
import { useE2eSuite } from "./support/e2e-suite.js";
import { expectHeading, firstLogin } from "./support/ui-steps.js";

const SENDER_NAME = "さくら健診センター (デモ)";

describe("the mapping editor in chromium", () => {
  const suite = useE2eSuite();
  const values = exportValues();

  async function valuesOnPage(page: Page): Promise<string[]> {
    const text = await page.locator("body").innerText();
    const html = await page.content();
    return values.filter((v) => text.includes(v) || html.includes(v));
  }

  it("validates inline in Japanese, drafts, tests on a sample, diffs, saves and activates", async () => {
    const node = suite.node();
    const context = suite.problems.watchContext(await suite.browser().newPersonContext("office"));
    const page = await context.newPage();
    await firstLogin(page, node.account("office"), { deviceLabel: "事務局のパソコン" });
    await page.getByRole("navigation").getByRole("link", { name: "マッピング", exact: true }).click();
    await expectHeading(page, "マッピングの編集");
    await page.getByLabel("健診機関", { exact: true }).selectOption({ label: SENDER_NAME });

    const editor = page.getByLabel("マッピング (YAML または JSON)", { exact: true });
    const mapping = readFileSync(MAPPING_PATH, "utf8");
    await editor.fill(mapping.replace("layout: wide", "layout: wide\nlayuot: x"));
    const check = page.locator("#mapping-editor-check");
    await expect
      .poll(() => check.textContent(), { timeout: 10_000 })
      .toContain("「layuot」という設定はありません");
    expect(await editor.getAttribute("aria-invalid")).toBe("true");
    await editor.fill(mapping);
    await expect.poll(() => check.textContent(), { timeout: 10_000 }).toContain("有効なマッピングです");

    // A draft from the sample replaces the text; it is valid too.
    await page
      .getByLabel("見本の出力ファイル (変換は試験のみ。保存しません)", { exact: true })
      .setInputFiles(EXPORT_PATH);
    await page.getByRole("button", { name: "見本から下書きを作る" }).click();
    await expect.poll(() => editor.inputValue(), { timeout: 10_000 }).toContain("kenshin map suggest");
    await expect.poll(() => check.textContent(), { timeout: 10_000 }).toContain("有効なマッピングです");

    // Back to the shipped mapping; test it on the sample: counts and codes only.
    await editor.fill(mapping);
    await page.getByRole("button", { name: "見本で試す" }).click();
    const result = page.getByRole("table", { name: "見本の試験変換" });
    await result.waitFor();
    expect(await page.locator("body").innerText()).toContain("VALUE_THESAURUS_UNKNOWN");
    expect(await valuesOnPage(page)).toEqual([]);

    // No active version yet: everything is new. Save and activate; then a second version's diff.
    await page.getByRole("button", { name: "保存して有効にする" }).click();
    await page.getByRole("status").getByText("保存しました (台帳に記録)").waitFor();
    await editor.fill(mapping.replace("name: さくら健診センター 健診システム標準出力", "name: 第2版"));
    const diff = page.locator("pre.mapping-diff");
    await expect.poll(() => diff.textContent(), { timeout: 10_000 }).toContain("+ name: 第2版");
    expect(await diff.textContent()).toContain("- name: さくら健診センター 健診システム標準出力");
    await expect
      .poll(() => check.textContent(), { timeout: 10_000 })
      .toContain("有効なマッピングです: 第2版");
    await page.getByRole("button", { name: "新しい版として保存", exact: true }).click();
    const versions = page.getByRole("table", { name: "保存された版" });
    await versions.getByText("第2版").waitFor();
    await saveScreenshot(page, "admin-mapping-editor");
    await versions
      .getByRole("row", { name: /第2版/ })
      .getByRole("button", { name: "この版を有効にする" })
      .click();
    await page.getByRole("status").getByText("有効にしました (台帳に記録)").waitFor();
    expect(await valuesOnPage(page)).toEqual([]);

    const updates = ledgerRecords(node.ctx).filter(
      (r) => r.type === "admin" && r.action === "mapping.update",
    );
    expect(updates.length).toBeGreaterThanOrEqual(3);
    await context.close();
    expect(suite.problems.messages).toEqual([]);
  });
});
