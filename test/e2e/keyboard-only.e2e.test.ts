/**
 * Keyboard-only use of the main flow: the sender's first login (ID and temporary password, forced
 * password change, device registration), then choosing the receiver and the file, uploading and 送信確定
 * (with its confirmation dialog), renaming the device on the account page and searching the transfer
 * list, with Tab to move, typing to fill, and Enter or Space to press — no mouse. A listener in the page counts
 * any pointer event or mouse-made click (a click made by Enter or Space has `detail` 0), and each new page
 * must put the focus on its title so a keyboard user starts there.
 */
import type { FileChooser, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { NEW_PASSWORD } from "../support/test-node.js";
import { EXPORT_PATH } from "../support/transfer-fixtures.js";
import { useE2eSuite } from "./support/e2e-suite.js";
import { apiGet, expectHeading, pathAfter, tabTo, transferIdOf } from "./support/ui-steps.js";

/** Counts pointer input in every document of the context (injected by CDP, so the CSP allows it). */
const POINTER_WATCH = `
  window.__pointerUse = 0;
  for (const type of ["mousedown", "mouseup", "pointerdown", "pointerup", "wheel", "touchstart"]) {
    addEventListener(type, (e) => { if (e.isTrusted) window.__pointerUse++; }, true);
  }
  addEventListener("click", (e) => { if (e.isTrusted && e.detail > 0) window.__pointerUse++; }, true);
`;

async function pointerUse(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { __pointerUse?: number }).__pointerUse ?? -1);
}

/** The h1 has the focus (PageHeading moves it there on every page). */
async function expectFocusOnHeading(page: Page, name: string): Promise<void> {
  await expectHeading(page, name);
  await expect
    .poll(() =>
      page.evaluate(() => {
        const el = document.activeElement;
        return el?.tagName === "H1" ? el.textContent : null;
      }),
    )
    .toBe(name);
}

async function typeInto(page: Page, label: string, text: string): Promise<void> {
  await tabTo(page, page.getByLabel(label, { exact: true }));
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.type(text);
}

describe("keyboard only", () => {
  const suite = useE2eSuite();

  it("first login, upload and 送信確定 with Tab, typing, Enter and Space — no pointer at all", async () => {
    const account = suite.node().account("sender");
    const context = suite.problems.watchContext(await suite.browser().newPersonContext("sender"));
    await context.addInitScript({ content: POINTER_WATCH });
    const page = await context.newPage();
    // Listening from the start: Playwright then answers file choosers itself instead of the browser
    // opening its own dialog (a listener added just before the key press can lose that race).
    const choosers: FileChooser[] = [];
    page.on("filechooser", (chooser) => {
      choosers.push(chooser);
    });

    await page.goto("/login");
    await expectFocusOnHeading(page, "ログイン");
    await typeInto(page, "利用者ID", account.loginId);
    await typeInto(page, "パスワード", account.password);
    await page.keyboard.press("Enter");

    // The forced change and the device registration, in whichever order the UI asks.
    let path = await pathAfter(page, "/login");
    while (path === "/password" || path === "/device") {
      if (path === "/password") {
        await expectFocusOnHeading(page, "パスワードの変更");
        await typeInto(page, "現在のパスワード", account.password);
        await typeInto(page, "新しいパスワード", NEW_PASSWORD);
        await typeInto(page, "新しいパスワード (確認)", NEW_PASSWORD);
        await tabTo(page, page.getByRole("button", { name: "パスワードを変更する" }));
        await page.keyboard.press("Enter");
      } else {
        await expectFocusOnHeading(page, "端末の登録");
        await typeInto(page, "この端末の名前", "キーボードだけの端末");
        await tabTo(page, page.getByRole("button", { name: "この端末を登録する" }));
        await page.keyboard.press("Space");
      }
      path = await pathAfter(page, path);
    }
    expect(path).toBe("/send");
    await expectFocusOnHeading(page, "送信");

    // The receiver: the only linked one may be chosen already; otherwise the arrow key chooses it.
    const receiver = page.getByLabel("送信先", { exact: true });
    await tabTo(page, receiver);
    if ((await receiver.inputValue()) === "") await page.keyboard.press("ArrowDown");
    expect(await receiver.inputValue()).toMatch(/^inst_/);

    // The file: Space on the focused file input opens the chooser, which the test answers.
    await tabTo(page, page.getByLabel("送信するファイル", { exact: true }));
    await page.keyboard.press("Space");
    await expect.poll(() => choosers.length, { timeout: 10_000 }).toBe(1);
    await choosers[0]?.setFiles(EXPORT_PATH);

    await tabTo(page, page.getByRole("button", { name: "アップロード", exact: true }));
    await page.keyboard.press("Enter");
    expect(await pathAfter(page, "/send")).toMatch(/^\/transfers\/tr_/);
    await expectFocusOnHeading(page, "転送の詳細");

    await tabTo(page, page.getByRole("button", { name: "送信確定", exact: true }));
    await page.keyboard.press("Space");
    // The confirmation dialog takes the focus; Esc closes it without sending, Enter confirms.
    const dialog = page.getByRole("dialog", { name: "送信を確定しますか？" });
    await dialog.waitFor();
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    await tabTo(page, page.getByRole("button", { name: "送信確定", exact: true }));
    await page.keyboard.press("Enter");
    await dialog.waitFor();
    await expect
      .poll(() => page.evaluate(() => document.activeElement?.textContent ?? ""))
      .toBe("送信を確定する");
    await page.keyboard.press("Enter");
    await page.getByText("送信を確定しました。").waitFor();
    const detail = await apiGet(page, `/api/v1/transfers/${transferIdOf(page)}`);
    expect((detail.json as { transfer: { status: string } }).transfer.status).toBe("sent");

    // The account page by keyboard: rename this device through its dialog.
    await tabTo(page, page.getByRole("navigation").getByRole("link", { name: "アカウント", exact: true }));
    await page.keyboard.press("Enter");
    await expectFocusOnHeading(page, "アカウント");
    await tabTo(page, page.getByRole("button", { name: "名前を変える" }));
    await page.keyboard.press("Enter");
    await page.getByRole("dialog", { name: "端末の名前を変える" }).waitFor();
    await typeInto(page, "新しい名前", "受付 (キーボード)");
    await page.keyboard.press("Enter");
    await page.locator("#account-done").filter({ hasText: "「受付 (キーボード)」に変えました" }).waitFor();

    // The transfer list's search and filter by keyboard.
    await tabTo(page, page.getByRole("navigation").getByRole("link", { name: "一覧", exact: true }));
    await page.keyboard.press("Enter");
    await expectFocusOnHeading(page, "送信した転送");
    await typeInto(page, "検索 (機関名・転送ID)", "存在しない機関");
    await page.locator("#list-count").filter({ hasText: "該当する転送はありません" }).waitFor();
    await typeInto(page, "検索 (機関名・転送ID)", "みなと");
    await page.locator("#list-count").filter({ hasText: "該当 1 件" }).waitFor();

    expect(await pointerUse(page)).toBe(0);
    await context.close();
    expect(suite.problems.messages).toEqual([]);
  });
});
