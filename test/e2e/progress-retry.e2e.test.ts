/**
 * Issue 11 in chromium: the browser's progress transfers through a node that stops serving, and a
 * held transfer shown as such.
 *
 * The upload (XMLHttpRequest with progress, the body sealed from the File) and the download (a streamed
 * fetch) each meet, on their first attempt, the real server's quarantine gate closed by the test for
 * exactly that request: the coded 503 `CLUSTER_QUARANTINED` a request gets on a connection still open
 * to a node that stopped serving (server/quarantine-gate.ts; the gate is given a health without
 * `onChange`, so the listener keeps accepting, as haproxy's kept connection does). The second attempt
 * reaches a node that never agreed its envelope key — the test makes the server forget the channel, as
 * the node a retry is sent to in a cluster knows nothing of it — and gets the real 409
 * `ENVELOPE_CHANNEL_INVALID`. The browser sends again signed anew, agrees a new key (re-sealing the
 * file from the File), and the transfer completes: one upload entry, and the downloaded bytes are the
 * transfer's standard hash. The route handler only sequences the gate; every answer is the server's.
 *
 * While a chunk of the transfer is repaired from a peer (a real NodeHealth holds it, as
 * `repairWhileServing` does), the receiver's list and detail say 修復中 and the download is refused
 * with the server's TRANSFER_REPAIRING text; once released, it is gone.
 */
import type { Page, Request } from "playwright-core";
import { expect, it, describe } from "vitest";
import { NodeHealth } from "../../src/cluster/integrity/node-health.js";
import type { NodeHealthView } from "../../src/server/quarantine-gate.js";
import { REPAIRING_MESSAGE } from "../../src/service/transfers/damage.js";
import { convertLocally, exampleExport, EXPORT_PATH } from "../support/transfer-fixtures.js";
import { ledgerRecords } from "../support/test-node.js";
import { saveScreenshot } from "./support/browser.js";
import { useE2eSuite } from "./support/e2e-suite.js";
import {
  apiGet,
  downloadBytes,
  expectHeading,
  firstLogin,
  pathAfter,
  sha256Hex,
  transferIdOf,
} from "./support/ui-steps.js";

const RECEIVER_NAME = "みなと健康保険組合 (デモ)";
const ENVELOPE_HEADER = "x-kenshin-envelope";
const DEVICE_HEADER = "x-kenshin-device";

/** The node's serving state as the quarantine gate reads it; the test opens and closes it. */
const gate = { open: true, since: new Date().toISOString() };
const gateHealth: NodeHealthView = {
  serving: () => gate.open,
  snapshot: () => ({ state: gate.open ? "healthy" : "quarantined", since: gate.since }),
};
/** The node's integrity health: holds a transfer while one of its chunks is repaired. */
const health = new NodeHealth({ now: () => new Date() });

interface Attempt {
  readonly channel: string | undefined;
  readonly signature: string | undefined;
  status?: number;
}

describe("progress transfers sent again on the coded 503 and a forgotten envelope key, in chromium", () => {
  const suite = useE2eSuite({ node: { nodeHealth: gateHealth, damage: health } });
  let transferId: string;

  /**
   * Routes `matches` so that its first attempt meets the closed gate (503) and its second a node that
   * forgot the channel (409); later attempts pass untouched. Returns the attempts as the server saw them.
   */
  async function refuseTwice(
    page: Page,
    matches: (url: URL) => boolean,
    forget: (channel: string) => void,
  ): Promise<Attempt[]> {
    const attempts: Attempt[] = [];
    const byRequest = new Map<Request, Attempt>();
    page.on("response", (response) => {
      const attempt = byRequest.get(response.request());
      if (attempt === undefined) return;
      attempt.status = response.status();
      // The gate closed for the first attempt only.
      gate.open = true;
    });
    await page.route(matches, async (route) => {
      const headers = route.request().headers();
      const attempt: Attempt = { channel: headers[ENVELOPE_HEADER], signature: headers[DEVICE_HEADER] };
      attempts.push(attempt);
      byRequest.set(route.request(), attempt);
      gate.open = attempts.length !== 1;
      if (attempts.length === 2 && attempt.channel !== undefined) forget(attempt.channel);
      await route.continue();
    });
    return attempts;
  }

  async function expectRefusedTwiceThenServed(attempts: readonly Attempt[], ok: number): Promise<void> {
    // The answers as the page saw them (its response events, bounded).
    await expect.poll(() => attempts.map((a) => a.status), { timeout: 10_000 }).toEqual([503, 409, ok]);
    // Signed anew each time; the 503 retry keeps its key, the 409 one agreed a new key.
    expect(new Set(attempts.map((a) => a.signature)).size).toBe(3);
    const [first, second, third] = attempts.map((a) => a.channel);
    expect(first).toBeDefined();
    expect(second).toBe(first);
    expect(third).toBeDefined();
    expect(third).not.toBe(first);
  }

  /** The 503s this test causes on purpose (two refused attempts, one held download) are no problem. */
  const REFUSED = /(^503 for POST |status of 503 ).*\/api\/v1\/transfers/;

  it("the upload meets a stopping node (503) and then a node that never agreed its key (409): sent again, stored once", async () => {
    const node = suite.node();
    const context = suite.problems.watchContext(await suite.browser().newPersonContext("sender"));
    const sender = await context.newPage();
    const account = node.account("sender");
    await firstLogin(sender, account, { deviceLabel: "受付のパソコン" });
    await expectHeading(sender, "送信");
    const uploadsBefore = ledgerRecords(node.ctx).filter((r) => r.type === "upload").length;
    const attempts = await refuseTwice(
      sender,
      (url) => url.pathname === "/api/v1/transfers" && url.searchParams.has("receiver"),
      (channel) => node.server.channels.take(channel, account.loginId, "upload"),
    );
    await sender.getByLabel("送信先", { exact: true }).selectOption({ label: RECEIVER_NAME });
    await sender.getByLabel("送信するファイル", { exact: true }).setInputFiles(EXPORT_PATH);
    await sender.getByRole("button", { name: "アップロード", exact: true }).click();
    expect(await pathAfter(sender, "/send")).toMatch(/^\/transfers\/tr_[a-z2-7]{16}$/);
    transferId = transferIdOf(sender);
    await expectHeading(sender, "転送の詳細");
    await expectRefusedTwiceThenServed(attempts, 201);
    // Nothing was done by the refused attempts: exactly one upload on the ledger.
    const uploads = ledgerRecords(node.ctx).filter((r) => r.type === "upload");
    expect(uploads.length - uploadsBefore).toBe(1);
    await sender.unrouteAll({ behavior: "ignoreErrors" });

    await sender.getByRole("button", { name: "送信確定", exact: true }).click();
    await sender
      .getByRole("dialog", { name: "送信を確定しますか？" })
      .getByRole("button", { name: "送信を確定する" })
      .click();
    await expect
      .poll(
        async () =>
          ((await apiGet(sender, `/api/v1/transfers/${transferId}`)).json as Detail).transfer.status,
      )
      .toBe("sent");
    await context.close();
  });

  it("a transfer held while its chunk is repaired: 修復中 in the receiver's list and detail, the download refused; then the download meets 503 and 409 and opens the exact bytes", async () => {
    const node = suite.node();
    const context = suite.problems.watchContext(await suite.browser().newPersonContext("receiver"));
    const receiver = await context.newPage();
    const account = node.account("receiver");
    health.holdTransfer(transferId);
    try {
      await firstLogin(receiver, account, { deviceLabel: "保険組合のパソコン" });
      await expectHeading(receiver, "届いた転送");
      const row = receiver.getByRole("row").filter({ hasText: "修復中" });
      await row.waitFor();
      await saveScreenshot(receiver, "transfers-repairing");
      await row.getByRole("link", { name: "詳細" }).click();
      expect(await pathAfter(receiver, "/transfers")).toBe(`/transfers/${transferId}`);
      await expectHeading(receiver, "転送の詳細");
      await receiver
        .locator("#transfer-repairing")
        .filter({ hasText: "しばらくしてから再度お試しください" })
        .waitFor();
      await receiver.getByRole("button", { name: "標準CSVをダウンロード" }).click();
      await receiver.locator("#transfer-error").filter({ hasText: REPAIRING_MESSAGE }).waitFor();
      await saveScreenshot(receiver, "transfer-repairing");
    } finally {
      health.releaseTransfer(transferId);
    }
    // The 503 TRANSFER_REPAIRING is the server's answer to that download, not sent again.
    expect(suite.problems.messages.filter((m) => /^503 for POST .*\/download$/.test(m))).toHaveLength(1);

    await receiver.reload();
    await expectHeading(receiver, "転送の詳細");
    const button = receiver.getByRole("button", { name: "標準CSVをダウンロード" });
    await button.waitFor();
    expect(await receiver.locator("#transfer-repairing").count()).toBe(0);
    const attempts = await refuseTwice(
      receiver,
      (url) => url.pathname === `/api/v1/transfers/${transferId}/download`,
      (channel) => node.server.channels.take(channel, account.loginId, "download"),
    );
    const [download] = await Promise.all([receiver.waitForEvent("download"), button.click()]);
    const bytes = await downloadBytes(download);
    await expectRefusedTwiceThenServed(attempts, 200);
    const view = ((await apiGet(receiver, `/api/v1/transfers/${transferId}`)).json as Detail).transfer;
    expect({ sha256: sha256Hex(bytes), bytes: bytes.length }).toEqual(view.standard);
    expect(bytes).toEqual((await convertLocally(exampleExport())).bytes);
    expect(view).toMatchObject({ status: "downloaded", repairing: false, damaged: false });
    // One download entry: the refused attempts did nothing.
    const downloads = ledgerRecords(node.ctx).filter((r) => r.type === "download");
    expect(downloads).toHaveLength(1);
    await receiver.unrouteAll({ behavior: "ignoreErrors" });
    await context.close();
    // The upload's and the download's refused attempt, the held download; nothing else at all.
    expect(suite.problems.messages.filter((m) => m.startsWith("503 for POST "))).toHaveLength(3);
    expect(suite.problems.messages.filter((m) => !REFUSED.test(m))).toEqual([]);
  });
});

interface Detail {
  readonly transfer: {
    readonly status: string;
    readonly standard: { sha256: string; bytes: number } | null;
    readonly repairing: boolean;
    readonly damaged: boolean;
  };
}
