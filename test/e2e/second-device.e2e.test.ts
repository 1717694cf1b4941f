/**
 * The second-browser dialog: the demo sender's ID, already registered in one browser, used from a second
 * browser profile (a fresh context: no device key in its IndexedDB). The service asks for confirmation,
 * the UI shows 「別の端末で使われています」; declining logs out and registers nothing, confirming registers
 * the new device, and the registration is an entry of the ledger that the person can see in the audit.
 * The dialog names the device already registered and since when. On the account page the second
 * browser renames the first device and removes it (each after a dialog; the device in use cannot remove
 * itself), and the first browser is then asked to register again.
 */
import type { Locator, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { ledgerRecords } from "../support/test-node.js";
import { saveScreenshot } from "./support/browser.js";
import { useE2eSuite } from "./support/e2e-suite.js";
import { apiGet, expectHeading, firstLogin, pathAfter, logIn, type Person } from "./support/ui-steps.js";

interface DeviceView {
  readonly id: string;
  readonly label: string;
  readonly ledgerIndex: number | null;
}

describe("the same ID in a second browser", () => {
  const suite = useE2eSuite();

  it("→ a confirmation dialog; 登録しない logs out and registers nothing; 登録する registers it, in the audit", async () => {
    const node = suite.node();
    const browser = suite.browser();
    const sender = node.account("sender");

    const first = suite.problems.watchContext(await browser.newPersonContext("sender"));
    const firstPage = await first.newPage();
    const { person, landing } = await firstLogin(firstPage, sender, { deviceLabel: "受付のパソコン" });
    expect(landing).toBe("/send");
    const before = (await apiGet(firstPage, "/api/v1/devices")).json as { devices: DeviceView[] };
    expect(before.devices.map((d) => d.label)).toEqual(["受付のパソコン"]);

    // A second profile that declines: logged out, nothing registered.
    const declining = suite.problems.watchContext(await browser.newPersonContext("sender"));
    const decliningPage = await declining.newPage();
    await loginToDeviceDialog(decliningPage, person, "2台目 (登録しない)");
    await decliningPage.getByRole("button", { name: "登録しない (ログアウト)" }).click();
    await expectHeading(decliningPage, "ログイン");
    await declining.close();
    expect(
      ((await apiGet(firstPage, "/api/v1/devices")).json as { devices: DeviceView[] }).devices,
    ).toHaveLength(1);

    // A second profile that confirms.
    const second = suite.problems.watchContext(await browser.newPersonContext("sender"));
    const secondPage = await second.newPage();
    const dialog = await loginToDeviceDialog(secondPage, person, "2台目のパソコン");
    // The dialog says which device already uses the ID, and since when (Japan time).
    const registered = (await dialog.locator("#registered-devices").textContent()) ?? "";
    expect(registered).toMatch(/受付のパソコン \(\d{4}\/\d{2}\/\d{2} \d{2}:\d{2} 日本時間 に登録\)/);
    await saveScreenshot(secondPage, "device-dialog");
    await dialog.getByRole("button", { name: "登録する", exact: true }).click();
    expect(await pathAfter(secondPage, "/device")).toBe("/send");

    const after = (await apiGet(secondPage, "/api/v1/devices")).json as { devices: DeviceView[] };
    expect(after.devices.map((d) => d.label)).toEqual(["受付のパソコン", "2台目のパソコン"]);
    const added = after.devices[1];
    expect(added?.ledgerIndex).toEqual(expect.any(Number));

    // On the ledger: a device.register entry for exactly that device, signed by it, marked additional.
    const registrations = ledgerRecords(node.ctx).filter(
      (r) => r.type === "admin" && r.action === "device.register",
    );
    const entry = registrations.find((r) => r.type === "admin" && r.target.id === added?.id);
    expect({
      actor: entry?.actor.id,
      signedBy: entry?.actor.device?.keyId,
      outcome: entry?.outcome,
    }).toEqual({ actor: person.loginId, signedBy: added?.id, outcome: "success" });
    // …and in the audit the person sees (their own institution's entries).
    const audit = (await apiGet(secondPage, "/api/v1/audit?limit=50")).json as {
      entries: { index: number; entry: { action?: string; target?: { id?: string } } }[];
    };
    const seen = audit.entries.find((e) => e.index === added?.ledgerIndex);
    expect({ action: seen?.entry.action, target: seen?.entry.target?.id }).toEqual({
      action: "device.register",
      target: added?.id,
    });

    // The account page of the second browser lists both devices, marks this one, and removes the
    // first after asking; the first browser is then sent back to device registration.
    await secondPage.getByRole("navigation").getByRole("link", { name: "アカウント", exact: true }).click();
    await expectHeading(secondPage, "アカウント");
    const table = secondPage.getByRole("table", { name: "登録された端末" });
    await table
      .getByRole("row")
      .filter({ hasText: "2台目のパソコン" })
      .filter({ hasText: "この端末" })
      .waitFor();
    const firstRow = table.getByRole("row").filter({ hasText: "受付のパソコン" });
    // The device in use has no removal button.
    expect(
      await table
        .getByRole("row")
        .filter({ hasText: "2台目のパソコン" })
        .getByRole("button", { name: "削除" })
        .count(),
    ).toBe(0);
    await firstRow.getByRole("button", { name: "名前を変える" }).click();
    const rename = secondPage.getByRole("dialog", { name: "端末の名前を変える" });
    await rename.getByLabel("新しい名前", { exact: true }).fill("受付のパソコン (旧)");
    await rename.getByRole("button", { name: "変更する" }).click();
    await secondPage
      .locator("#account-done")
      .filter({ hasText: "「受付のパソコン (旧)」に変えました" })
      .waitFor();
    await saveScreenshot(secondPage, "account");
    await table
      .getByRole("row")
      .filter({ hasText: "受付のパソコン (旧)" })
      .getByRole("button", { name: "削除" })
      .click();
    const remove = secondPage.getByRole("dialog", { name: "端末「受付のパソコン (旧)」を削除しますか？" });
    await remove.getByRole("button", { name: "やめる" }).click();
    expect(
      ((await apiGet(secondPage, "/api/v1/devices")).json as { devices: DeviceView[] }).devices,
    ).toHaveLength(2);
    await table
      .getByRole("row")
      .filter({ hasText: "受付のパソコン (旧)" })
      .getByRole("button", { name: "削除" })
      .click();
    await remove.getByRole("button", { name: "削除する" }).click();
    await secondPage.locator("#account-done").filter({ hasText: "削除しました" }).waitFor();
    expect(
      ((await apiGet(secondPage, "/api/v1/devices")).json as { devices: DeviceView[] }).devices.map(
        (d) => d.label,
      ),
    ).toEqual(["2台目のパソコン"]);
    // The removed browser: its next signed step is refused and it is asked to register again.
    await firstPage.goto("/transfers");
    await expectHeading(firstPage, "端末の登録");

    await first.close();
    await second.close();
    expect(suite.problems.messages).toEqual([]);
  });
});

/** Logs in from a browser without a device key for the ID and waits for the dialog. */
async function loginToDeviceDialog(page: Page, person: Person, deviceLabel: string): Promise<Locator> {
  await page.goto("/login");
  await logIn(page, person);
  await expectHeading(page, "端末の登録");
  await page.getByLabel("この端末の名前", { exact: true }).fill(deviceLabel);
  await page.getByRole("button", { name: "この端末を登録する" }).click();
  const dialog = page.getByRole("dialog", { name: "別の端末で使われています" });
  await dialog.waitFor({ state: "visible" });
  expect(await dialog.textContent()).toContain(
    "この利用者IDは既に別の端末で使われています。この端末も登録しますか？",
  );
  return dialog;
}
