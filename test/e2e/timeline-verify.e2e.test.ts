/**
 * The transfer page's timeline verifies each entry's signer and time in chromium (S1–S2, T1): after the
 * ledger check (trail-check.ts), every entry's recorded time is proven against the RFC 3161 token over
 * the checkpoint it is included in, and the seal entry's time stamp and signer certificate against the
 * pinned anchors — shown in Japanese as 検証済み. Device signatures are shown as present but not
 * re-checkable (what they covered is not on the ledger). With another CA pinned, the same page shows the
 * seal's signer, its time stamp and every recorded time as 検証失敗.
 */
import type { BrowserContext, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import type { TransferView } from "../../src/service/transfers/view.js";
import { saveScreenshot } from "./support/browser.js";
import { useE2eSuite } from "./support/e2e-suite.js";
import { firstLogin } from "./support/ui-steps.js";
import { pinOtherSigningCa, sendExampleTransfer } from "./support/verify-steps.js";

/** Statuses of every `selector` on the page. */
async function statuses(page: Page, selector: string): Promise<string[]> {
  return page.locator(selector).evaluateAll((els) => els.map((e) => e.getAttribute("data-status") ?? ""));
}

describe("the transfer page verifies each entry's signer and time in the browser", () => {
  const suite = useE2eSuite();
  let context: BrowserContext;
  let page: Page;
  let transfer: TransferView;

  it("every entry's time is proven by the checkpoint's time stamp; the seal's signer and time stamp verify", async () => {
    const node = suite.node();
    transfer = await sendExampleTransfer(node.client("sender"), node.account("sender"));

    context = suite.problems.watchContext(await suite.browser().newPersonContext("receiver"));
    page = await context.newPage();
    await firstLogin(page, node.account("receiver"), { deviceLabel: "証跡確認用のパソコン" });
    // The node stamps a checkpoint after publishing it: reload (bounded) until the trail's checkpoint
    // has its token, so every entry's time can be proven.
    let recorded: string[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      await page.goto(`/transfers/${transfer.id}`);
      await page.locator("#trail-status.verdict-ok").waitFor();
      await page.locator(".entry-recorded").first().waitFor();
      recorded = await statuses(page, ".entry-recorded");
      if (recorded.length > 0 && recorded.every((s) => s === "verified")) break;
      expect(recorded.every((s) => s !== "failed")).toBe(true);
      await page.waitForTimeout(500);
    }
    expect(recorded.length).toBeGreaterThanOrEqual(4); // upload, conversion, send, seal (+ the receiver's)
    expect(recorded.every((s) => s === "verified")).toBe(true);
    const firstRecorded = (await page.locator(".entry-recorded").first().textContent()) ?? "";
    expect(firstRecorded).toContain("記録時刻: 検証済み");
    expect(firstRecorded).toContain("日本時間 までに記録");

    const signer = page.locator('.seal-signer[data-status="verified"]');
    const stamp = page.locator('.seal-time[data-status="verified"]');
    await signer.waitFor();
    await stamp.waitFor();
    expect(await signer.textContent()).toContain("署名者: 検証済み");
    expect(await signer.textContent()).toContain("kenshin-exchange seal");
    expect(await stamp.textContent()).toContain("タイムスタンプ: 検証済み");
    expect(await stamp.textContent()).toContain("TSA");
    // The entries were signed by the sender's device: each re-checked here over what its entry recorded
    // (the covered request fields and the device's public key), with the device and the signing time.
    const devices = page.locator(".entry-device");
    await page.locator('.entry-device[data-status="verified"]').first().waitFor();
    const deviceStatuses = await devices.evaluateAll((els) => els.map((e) => e.getAttribute("data-status")));
    expect(deviceStatuses.length).toBeGreaterThanOrEqual(2); // upload and send (+ the receiver's)
    expect(deviceStatuses.every((s) => s === "verified")).toBe(true);
    const device = (await devices.first().textContent()) ?? "";
    expect(device).toContain("端末署名: 検証済み");
    expect(device).toContain("日本時間");
    await saveScreenshot(page, "timeline-signers-verified");
    expect(suite.problems.messages).toEqual([]);
  });

  it("with another CA pinned, the seal's signer and time stamp and every recorded time fail", async () => {
    await pinOtherSigningCa(page);
    let recorded: string[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      await page.goto(`/transfers/${transfer.id}`);
      await page.locator('.seal-signer[data-status="failed"]').waitFor();
      await page.locator('.seal-time[data-status="failed"]').waitFor();
      recorded = await statuses(page, ".entry-recorded");
      // Until the trail's checkpoint has its token the times are "not checked", never verified.
      expect(recorded.every((s) => s !== "verified")).toBe(true);
      if (recorded.length > 0 && recorded.every((s) => s === "failed")) break;
      await page.waitForTimeout(500);
    }
    expect(await page.locator(".seal-signer").textContent()).toContain("署名者: 検証失敗");
    expect(await page.locator(".seal-time").textContent()).toContain("タイムスタンプ: 検証失敗");
    expect(recorded.length).toBeGreaterThanOrEqual(4);
    expect(recorded.every((s) => s === "failed")).toBe(true);
    await saveScreenshot(page, "timeline-signers-untrusted");
    expect(suite.problems.messages).toEqual([]);
  });
});
