/**
 * The 検証 page checks the seal of a sent file in chromium (S1–S2): the receiver chooses the file, the
 * page proves it on the ledger and then verifies, in the browser, the detached JWS over the file's bytes
 * against the pinned seal CA and the RFC 3161 token over the JWS against the pinned TSA CA, showing the
 * signer and the stamped time as 検証済み, and the sender's device signature on 送信確定 re-checked
 * (device and signing time). When the pinned anchors are another CA's (as if the service had
 * swapped its CA), the same file's signature and time stamp show 検証失敗 and the page warns.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { saveScreenshot } from "./support/browser.js";
import { useE2eSuite } from "./support/e2e-suite.js";
import { expectHeading, firstLogin } from "./support/ui-steps.js";
import {
  pinOtherSigningCa,
  sendExampleTransfer,
  verifyFile,
  writeStandardFile,
} from "./support/verify-steps.js";

describe("the verify page checks the signature and the time stamp in the browser", () => {
  const suite = useE2eSuite();
  const work = mkdtempSync(join(tmpdir(), "kenshin-e2e-seal-"));
  let context: BrowserContext;
  let page: Page;
  let filePath: string;

  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it("a sent file: signer and time stamp verified against the pinned anchors", async () => {
    const node = suite.node();
    const transfer = await sendExampleTransfer(node.client("sender"), node.account("sender"));
    filePath = join(work, "standard.csv");
    await writeStandardFile(transfer, filePath);

    context = suite.problems.watchContext(await suite.browser().newPersonContext("receiver"));
    page = await context.newPage();
    await firstLogin(page, node.account("receiver"), { deviceLabel: "検証用のパソコン" });
    await page.goto("/verify");
    await expectHeading(page, "検証");
    await verifyFile(page, filePath);
    const signature = page.locator("#seal-signature");
    const stamp = page.locator("#seal-stamp");
    await page.locator('#seal-signature[data-status="verified"]').waitFor();
    await page.locator('#seal-stamp[data-status="verified"]').waitFor();
    expect(await signature.textContent()).toContain("電子署名: 検証済み");
    expect(await signature.textContent()).toContain("kenshin-exchange seal");
    const stampText = (await stamp.textContent()) ?? "";
    expect(stampText).toContain("タイムスタンプ: 検証済み");
    expect(stampText).toContain("日本時間");
    expect(stampText).toContain("TSA");
    // The sender's device signature on 送信確定, re-checked in the browser from the proven send entry.
    const device = page.locator('#seal-device[data-status="verified"]');
    await device.waitFor();
    expect(await device.textContent()).toContain("端末署名: 検証済み");
    expect(await device.textContent()).toContain("日本時間 にこの操作を署名しました");
    await saveScreenshot(page, "verify-seal");
    expect(suite.problems.messages).toEqual([]);
  });

  it("with another CA pinned, the same file's signature and time stamp fail and the page warns", async () => {
    await pinOtherSigningCa(page);
    await verifyFile(page, filePath);
    await page.locator('#seal-signature[data-status="failed"]').waitFor();
    await page.locator('#seal-stamp[data-status="failed"]').waitFor();
    const panel = (await page.locator("#seal-check").textContent()) ?? "";
    expect(panel).toContain("電子署名: 検証失敗");
    expect(panel).toContain("タイムスタンプ: 検証失敗");
    expect(panel).toContain("署名の信頼点 (発行CA) が最初に記録したものと異なります");
    await saveScreenshot(page, "verify-seal-untrusted");
    expect(suite.problems.messages).toEqual([]);
  });
});
