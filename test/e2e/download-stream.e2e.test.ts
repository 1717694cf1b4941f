/**
 * The receiver's download written to a chosen file as it arrives, and its 中止 button, in chromium.
 *
 * Headless chromium has the File System Access API's save picker but cannot show it (it answers as if
 * the person closed it), so the page's `showSaveFilePicker` is replaced by one that hands out a file of
 * the origin-private file system: the same FileSystemFileHandle / writable stream the real picker gives,
 * only its place on disk differs. The writable stream is wrapped to count the pieces written.
 * The transfer (~3 MB of standard CSV) is uploaded and sent through the API.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { uploadExport } from "../../src/client/transfer-client.js";
import { firstLogin as apiFirstLogin } from "../support/test-node.js";
import { exampleExport } from "../support/transfer-fixtures.js";
import { useE2eSuite } from "./support/e2e-suite.js";
import { apiGet, expectHeading, firstLogin, progressSeen, watchProgress } from "./support/ui-steps.js";

interface Saved {
  picks: number;
  name: string;
  writes: number;
  bytes: number;
  closed: boolean;
  aborted: boolean;
}

/**
 * Runs in the page before its scripts: the picker replaced as described above. (A string, not a
 * function: vitest's transform would put helpers into a function's source that the page lacks.)
 */
const INSTALL_PICKER = `(() => {
  const saved = { picks: 0, name: "", writes: 0, bytes: 0, closed: false, aborted: false };
  window.__saved = saved;
  window.showSaveFilePicker = async (options) => {
    saved.picks++;
    saved.name = (options && options.suggestedName) || "";
    const root = await navigator.storage.getDirectory();
    const handle = await root.getFileHandle("download.csv", { create: true });
    return {
      createWritable: async () => {
        const stream = await handle.createWritable();
        return {
          write: async (bytes) => { saved.writes++; saved.bytes += bytes.byteLength; await stream.write(bytes); },
          close: async () => { saved.closed = true; await stream.close(); },
          abort: async () => { saved.aborted = true; await stream.abort(); },
        };
      },
    };
  };
})();`;

async function savedState(page: Page): Promise<Saved> {
  return page.evaluate(() => (window as unknown as { __saved: Saved }).__saved);
}

/** The chosen file as it is on disk now: size and SHA-256 (hex). */
async function savedFile(page: Page): Promise<{ bytes: number; sha256: string }> {
  return page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const file = await (await root.getFileHandle("download.csv")).getFile();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
    return { bytes: file.size, sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("") };
  });
}

/** The example's rows repeated with a new examinee ID per copy (no duplicate keys): ~1.6 MB of CP932 for 400. */
function largeExport(copies: number): Buffer {
  const text = exampleExport();
  const second = text.indexOf("\r\n", text.indexOf("\r\n") + 2) + 2;
  const rows = text.subarray(second).toString("latin1");
  const parts = [text.subarray(0, second)];
  for (let c = 0; c < copies; c++) {
    const id = String(c).padStart(4, "0");
    parts.push(Buffer.from(rows.replace(/,K0001(\d\d),/g, `,K${id}$1,`), "latin1"));
  }
  return Buffer.concat(parts);
}

describe("the receiver's download goes to the chosen file as it arrives and can be cancelled, in chromium", () => {
  const suite = useE2eSuite();
  let receiver: Page;
  let transferId: string;

  it("a sent transfer of ~3 MB of standard CSV; the receiver opens it with the save picker offered", async () => {
    const node = suite.node();
    // Converting the upload takes a while on a busy machine.
    const sender = node.client("sender", { timeoutMs: 120_000 });
    const account = node.account("sender");
    await apiFirstLogin(sender, account.loginId, account.password);
    const receivers = await sender.get("/api/v1/receivers");
    const receiverId = (receivers.json as { receivers: { id: string }[] }).receivers[0]?.id ?? "";
    const upload = await uploadExport(sender, receiverId, largeExport(400));
    expect(upload.status).toBe(201);
    transferId = (upload.json as { transfer: { id: string } }).transfer.id;
    expect((await sender.post(`/api/v1/transfers/${transferId}/send`)).status).toBe(200);

    const context = suite.problems.watchContext(await suite.browser().newPersonContext("receiver"));
    await context.addInitScript({ content: INSTALL_PICKER });
    receiver = await context.newPage();
    await firstLogin(receiver, node.account("receiver"), { deviceLabel: "保険組合のパソコン" });
    await receiver.goto(`/transfers/${transferId}`);
    await expectHeading(receiver, "転送の詳細");
    // Below the large-file size the choice is offered, not made.
    const choice = receiver.getByLabel("保存先を先に選び、届いた分から書き込む (大きなファイル向け)");
    // The detail of a 12,000-record transfer takes a while to load on a busy machine.
    await choice.waitFor({ timeout: 60_000 });
    expect(await choice.isChecked()).toBe(false);
    await choice.check();
  });

  it("中止 while the download is on its way: the chosen file is left empty, nothing is downloaded", async () => {
    const download = (url: URL) => url.pathname === `/api/v1/transfers/${transferId}/download`;
    let held = false;
    await receiver.route(download, async (route) => {
      held = true;
      await new Promise((resolve) => setTimeout(resolve, 20_000));
      await route.continue().catch(() => undefined);
    });
    let blobDownloads = 0;
    receiver.on("download", () => blobDownloads++);
    await receiver.getByRole("button", { name: "標準CSVをダウンロード" }).click();
    await expect.poll(() => held, { timeout: 15_000 }).toBe(true);
    await receiver.getByRole("button", { name: "中止", exact: true }).click();
    await receiver.getByText("ダウンロードを中止しました。ファイルは保存されていません。").waitFor();
    const saved = await savedState(receiver);
    expect(saved).toMatchObject({ picks: 1, writes: 0, closed: false, aborted: true });
    expect((await savedFile(receiver)).bytes).toBe(0);
    expect(blobDownloads).toBe(0);
    await receiver.unrouteAll({ behavior: "ignoreErrors" });
    const view = await apiGet(receiver, `/api/v1/transfers/${transferId}`);
    expect((view.json as { transfer: { status: string } }).transfer.status).toBe("sent");
  });

  it("the download is written piece by piece into the chosen file: its SHA-256 is the transfer's standard hash", async () => {
    await watchProgress(receiver, "ダウンロードの進み具合");
    let blobDownloads = 0;
    receiver.on("download", () => blobDownloads++);
    await receiver.getByRole("button", { name: "標準CSVをダウンロード" }).click();
    await receiver.getByText("ダウンロードしました。", { exact: false }).waitFor({ timeout: 60_000 });
    const saved = await savedState(receiver);
    expect(saved.picks).toBe(2);
    expect(saved.name).toMatch(
      /^健診結果_さくら健診センター_\(デモ\)_みなと健康保険組合_\(デモ\)_\d{8}\.csv$/,
    );
    expect(saved.closed).toBe(true);
    const view = await apiGet(receiver, `/api/v1/transfers/${transferId}`);
    const transfer = (
      view.json as { transfer: { status: string; standard: { sha256: string; bytes: number } } }
    ).transfer;
    expect(transfer.standard.bytes).toBeGreaterThan(2_500_000);
    expect(await savedFile(receiver)).toEqual(transfer.standard);
    // Written as it arrived: one write per piece the response's reader gave (each opened at once),
    // not one at the end, and nothing through a Blob link.
    expect(saved.bytes).toBe(transfer.standard.bytes);
    expect(saved.writes).toBeGreaterThan(1);
    expect(blobDownloads).toBe(0);
    const seen = await progressSeen(receiver);
    expect(seen.some((p) => p.max > 1 && p.value === p.max)).toBe(true);
    expect(transfer.status).toBe("downloaded");
    expect(suite.problems.messages).toEqual([]);
  });
});
