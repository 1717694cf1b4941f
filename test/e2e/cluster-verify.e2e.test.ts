/**
 * The browser's 検証 page against the whole replicated service (test/support/service-cluster.ts:
 * haproxy + 3 `kenshin serve` + the offline node on real etcd 3.4), in chromium through haproxy. On
 * first use the browser pins the log key together with the cluster's node keys and quorum
 * (`GET /api/v1/ledger/cosigners`, web/src/verifier-pin.ts); a sent file then verifies against the
 * published checkpoint, which 2 of the 3 online nodes cosigned. With other node keys pinned (as if the
 * browser had first met a service with other cosigners), the same file's trail is refused: the page
 * warns that the pinned keys changed and the verdict is 検証失敗.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadExport } from "../../src/client/transfer-client.js";
import { generateNoteKey } from "../../src/crypto/note-key.js";
import { createCosigner } from "../../src/crypto/note-signer.js";
import type { TransferView } from "../../src/service/transfers/view.js";
import { useServiceCluster } from "../support/service-cluster.js";
import { expectStatus, firstLogin as apiFirstLogin } from "../support/test-node.js";
import { convertLocally, exampleExport } from "../support/transfer-fixtures.js";
import { launchBrowser, PageProblems, saveScreenshot, type E2eBrowser } from "./support/browser.js";
import { expectHeading, firstLogin } from "./support/ui-steps.js";

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
    const sender = c.client("sender");
    await apiFirstLogin(sender, c.account("sender").loginId, c.account("sender").password);
    const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
    const up = await uploadExport(sender, receivers.receivers[0]?.id ?? "", exampleExport());
    expectStatus(up, 201);
    const transfer = (up.json as { transfer: TransferView }).transfer;
    expectStatus(await sender.post(`/api/v1/transfers/${transfer.id}/send`), 200);
    const { bytes } = await convertLocally(exampleExport());
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(transfer.standard?.sha256);
    filePath = join(c.dir, "standard-for-browser.csv");
    writeFileSync(filePath, bytes);

    if (browser === undefined) throw new Error("chromium did not start");
    context = problems.watchContext(await browser.newPersonContext("receiver"));
    page = await context.newPage();
    await firstLogin(page, c.account("receiver"), { deviceLabel: "クラスタ検証用のパソコン" });
    await page.goto("/verify");
    await expectHeading(page, "検証");
    await page.getByLabel("検証するファイル", { exact: true }).setInputFiles(filePath);
    await page.getByRole("button", { name: "ファイルを検証" }).click();
    await page.locator("#verify-result .verdict-ok:not([data-status])").waitFor();

    // What the browser pinned: the log key's line, then the cluster's cosigners.txt.
    const pinned = await page.evaluate(readPin);
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
    await page.evaluate(writePin, `${logKey}\nquorum 2\n${strangers.join("\n")}`);
    // The pin is read when the app starts.
    await page.goto("/verify");
    await expectHeading(page, "検証");
    await page.locator(".key-warning").waitFor();
    await page.getByLabel("検証するファイル", { exact: true }).setInputFiles(filePath);
    await page.getByRole("button", { name: "ファイルを検証" }).click();
    await page.locator("#verify-result .verdict-fail").waitFor();
    expect(await page.locator("#verify-result .verdict-ok").count()).toBe(0);
    await saveScreenshot(page, "verify-cluster-other-cosigners");
    expect(problems.messages).toEqual([]);
  }, 120_000);
});

/** The verifier-key pin's text in the page's IndexedDB (web/src/device-store.ts). */
async function readPin(): Promise<string> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const open = indexedDB.open("kenshin-web");
    open.onsuccess = () => {
      resolve(open.result);
    };
    open.onerror = () => {
      reject(open.error ?? new Error("open"));
    };
  });
  try {
    return await new Promise<string>((resolve, reject) => {
      const get = db.transaction("pins", "readonly").objectStore("pins").get("ledger-verifier-key");
      get.onsuccess = () => {
        resolve((get.result as { text: string } | undefined)?.text ?? "");
      };
      get.onerror = () => {
        reject(get.error ?? new Error("get"));
      };
    });
  } finally {
    db.close();
  }
}

/** Replaces the verifier-key pin's text in the page's IndexedDB. */
async function writePin(text: string): Promise<void> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const open = indexedDB.open("kenshin-web");
    open.onsuccess = () => {
      resolve(open.result);
    };
    open.onerror = () => {
      reject(open.error ?? new Error("open"));
    };
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction("pins", "readwrite");
      tx.objectStore("pins").put({ text, pinnedAt: new Date().toISOString() }, "ledger-verifier-key");
      tx.oncomplete = () => {
        resolve();
      };
      tx.onerror = () => {
        reject(tx.error ?? new Error("put"));
      };
    });
  } finally {
    db.close();
  }
}
