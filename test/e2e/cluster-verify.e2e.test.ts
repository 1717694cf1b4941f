/**
 * The browser's 検証 page against the whole replicated service (test/support/service-cluster.ts:
 * haproxy + 3 `kenshin serve` + the offline node on real etcd 3.4), in chromium through haproxy. On
 * first use the browser pins the log key together with the cluster's node keys and quorum
 * (`GET /api/v1/ledger/cosigners`, web/src/verifier-pin.ts); a sent file then verifies against the
 * published checkpoint, which 2 of the 3 online nodes cosigned. With other node keys pinned (as if the
 * browser had first met a service with other cosigners), the same file's trail is refused: the page
 * warns that the pinned keys changed and the verdict is 検証失敗.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateNoteKey } from "../../src/crypto/note-key.js";
import { createCosigner } from "../../src/crypto/note-signer.js";
import { useServiceCluster } from "../support/service-cluster.js";
import { launchBrowser, PageProblems, saveScreenshot, type E2eBrowser } from "./support/browser.js";
import { expectHeading, firstLogin } from "./support/ui-steps.js";
import {
  readPin,
  sendExampleTransfer,
  verifyFile,
  writePin,
  writeStandardFile,
} from "./support/verify-steps.js";

const cluster = useServiceCluster();

describe("the 検証 page verifies against the cluster's cosigned checkpoint with the node keys pinned", () => {
  const problems = new PageProblems();
  let browser: E2eBrowser | undefined;
  let context: BrowserContext;
  let page: Page;
  let filePath: string;

  beforeAll(async () => {
    const c = cluster();
    browser = await launchBrowser({
      demo: { caCertificate: c.files.caCert },
      server: { port: c.topology.frontend.port },
      account: (role) => c.account(role),
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
  });

  it("a sent file verifies in chromium; the node keys are pinned beside the log key", async () => {
    const c = cluster();
    const transfer = await sendExampleTransfer(c.client("sender"), c.account("sender"));
    filePath = join(c.dir, "standard-for-browser.csv");
    await writeStandardFile(transfer, filePath);

    if (browser === undefined) throw new Error("chromium did not start");
    context = problems.watchContext(await browser.newPersonContext("receiver"));
    page = await context.newPage();
    await firstLogin(page, c.account("receiver"), { deviceLabel: "クラスタ検証用のパソコン" });
    await page.goto("/verify");
    await expectHeading(page, "検証");
    await verifyFile(page, filePath);
    await page.locator("#verify-result .verdict-ok:not([data-status])").waitFor();

    // What the browser pinned: the log key's line, then the cluster's cosigners.txt.
    const pinned = await readPin(page, "ledger-verifier-key");
    const logKey = readFileSync(c.files.logVerifierKey, "utf8").trim();
    const list = readFileSync(c.files.cosigners, "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    expect(pinned.split("\n")).toEqual([logKey, ...list]);
    await saveScreenshot(page, "verify-cluster");
    expect(problems.messages).toEqual([]);
  }, 300_000);

  it("with other node keys pinned, the same file's trail is refused (検証失敗) and the page warns", async () => {
    const c = cluster();
    const logKey = readFileSync(c.files.logVerifierKey, "utf8").trim();
    const strangers = [1, 2, 3].map(
      (i) => createCosigner(generateNoteKey(`kenshin.example/stranger${i}`), Date.now).verifierKey,
    );
    await writePin(page, "ledger-verifier-key", `${logKey}\nquorum 2\n${strangers.join("\n")}`);
    // The pin is read when the app starts.
    await page.goto("/verify");
    await expectHeading(page, "検証");
    await page.locator(".key-warning").waitFor();
    await verifyFile(page, filePath);
    await page.locator("#verify-result .verdict-fail").waitFor();
    expect(await page.locator("#verify-result .verdict-ok").count()).toBe(0);
    await saveScreenshot(page, "verify-cluster-other-cosigners");
    expect(problems.messages).toEqual([]);
  }, 120_000);
});
