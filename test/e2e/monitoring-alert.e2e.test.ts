/**
 * L6 in chromium: a burst of failed logins beyond the configured threshold becomes a line on the office's
 * monitoring page (監視), next to its alert entry on the ledger — the office sees the kind, the count and
 * the threshold, and nothing else about the account's data.
 */
import { describe, expect, it } from "vitest";
import { ledgerRecords } from "../support/test-node.js";
import { saveScreenshot } from "./support/browser.js";
import { useE2eSuite } from "./support/e2e-suite.js";
import { expectHeading, firstLogin } from "./support/ui-steps.js";

describe("monitoring alerts on the office's page", () => {
  const suite = useE2eSuite({ node: { config: { alerts: { windowMinutes: 10, authFailures: 3 } } } });

  it("failed logins beyond the threshold show as one alert line on 監視", async () => {
    const node = suite.node();
    const attacker = node.client("sender");
    const loginId = node.account("sender").loginId;
    for (let i = 0; i < 4; i++)
      expect((await attacker.login(loginId, `wrong-password-${i}`)).status).toBe(401);
    const alerts = ledgerRecords(node.ctx).filter((r) => r.type === "alert");
    expect(alerts).toHaveLength(1);

    const context = suite.problems.watchContext(await suite.browser().newPersonContext("office"));
    const page = await context.newPage();
    await firstLogin(page, node.account("office"), { deviceLabel: "事務局のパソコン" });
    await page.goto("/admin/monitoring");
    await expectHeading(page, "監視");
    const line = page.locator("#mon-alerts li.alert-line");
    await line.first().waitFor();
    expect(await line.count()).toBe(1);
    const text = (await line.first().textContent()) ?? "";
    expect(text).toContain("警告");
    expect(text).toContain("auth-failures");
    expect(text).toContain("しきい値 3");
    await saveScreenshot(page, "monitoring-alert");
    expect(suite.problems.messages).toEqual([]);
  });
});
