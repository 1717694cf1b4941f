/**
 * The whole flow in chromium, as the two people do it: the demo sender's first login (temporary
 * password, forced change, device registration), upload of the shipped example export to the demo
 * receiver with the progress bar, the conversion summary and the row issues, 送信確定; the receiver's
 * first login, download of the standard CSV (its bytes are exactly the transfer's standard hash, its name
 * says sender, receiver and date), 受領確定 and the trail verified in the browser (devices by name); the
 * Excel copies (Shift_JIS, UTF-8 with BOM) downloaded again after the receipt; the verify page with the
 * real file, a one-byte-changed copy (checked record by record) and an Excel copy; and, past the
 * retention time, deletion shown as 削除済み in the sender's list. Both 送信確定 and 受領確定 ask first.
 * The issue list names issues, items and the export's columns in Japanese and downloads as CP932 CSV.
 * Screenshots of each main page are saved on the way.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import iconv from "iconv-lite";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Locator, Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { runRetention } from "../../src/service/transfers/retention.js";
import { transferRow } from "../../src/service/transfers/records.js";
import { convertLocally, exampleExport, EXPORT_PATH } from "../support/transfer-fixtures.js";
import { saveScreenshot } from "./support/browser.js";
import { useE2eSuite } from "./support/e2e-suite.js";
import {
  apiGet,
  downloadBytes,
  expectHeading,
  firstLogin,
  logIn,
  pathAfter,
  progressSeen,
  sha256Hex,
  transferIdOf,
  watchProgress,
  type Person,
} from "./support/ui-steps.js";

interface TransferView {
  readonly id: string;
  readonly status: string;
  readonly standard: { sha256: string; bytes: number } | null;
}

const RECEIVER_NAME = "みなと健康保険組合 (デモ)";
const DAY_MS = 86_400_000;

describe("sender upload → receiver receipt → deletion, in chromium", () => {
  const suite = useE2eSuite();
  const work = mkdtempSync(join(tmpdir(), "kenshin-e2e-flow-"));
  let senderContext: BrowserContext;
  let sender: Page;
  let senderPerson: Person;
  let receiverContext: BrowserContext;
  let receiver: Page;
  let transferId: string;
  let downloaded: string;

  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it("the sender's first login: temporary password → forced change → device registration → 送信", async () => {
    senderContext = suite.problems.watchContext(await suite.browser().newPersonContext("sender"));
    sender = await senderContext.newPage();
    const first = await firstLogin(sender, suite.node().account("sender"), {
      deviceLabel: "受付のパソコン",
      screenshots: true,
    });
    senderPerson = first.person;
    expect(first.landing).toBe("/send");
    await expectHeading(sender, "送信");
  });

  it("the sender uploads the example export (progress bar) and sees the summary and the row issues", async () => {
    const expected = (await convertLocally(exampleExport())).summary;
    await sender.getByLabel("送信先", { exact: true }).selectOption({ label: RECEIVER_NAME });
    await sender.getByLabel("送信するファイル", { exact: true }).setInputFiles(EXPORT_PATH);
    await saveScreenshot(sender, "send");
    await watchProgress(sender, "アップロードの進み具合");
    await sender.getByRole("button", { name: "アップロード", exact: true }).click();
    expect(await pathAfter(sender, "/send")).toMatch(/^\/transfers\/tr_[a-z2-7]{16}$/);
    transferId = transferIdOf(sender);
    await expectHeading(sender, "転送の詳細");

    // The labelled progress bar was shown while the file was sealed, sent and converted. (A 3 KB body
    // goes in one piece, so it stays indeterminate here; the download below shows it counting up.)
    expect((await progressSeen(sender)).length).toBeGreaterThan(0);

    // The summary: the counts of the local conversion of the same file.
    const report = sender.getByRole("region", { name: "変換の結果" });
    const reportText = (await report.textContent()) ?? "";
    for (const [label, value] of [
      ["読み込んだ行", expected.counts.rowsIn],
      ["変換できたレコード", expected.counts.recordsOut],
      ["エラーで除いた行", expected.counts.rowsRejected],
    ] as const) {
      expect(reportText).toContain(label);
      expect(reportText).toContain(String(value));
    }

    // The issues: one table row per issue, with the source row and column; filterable by severity.
    const issues = sender.getByRole("table", { name: "指摘" });
    // An empty 受診日 is named in words, with the item's standard name and the export's column.
    const keyMissing = issues.locator("tbody tr").filter({ hasText: "RECORD_KEY_MISSING" }).first();
    const keyMissingText = (await keyMissing.textContent()) ?? "";
    expect(keyMissingText).toContain("受診者や受診日を特定する値がありません");
    expect(keyMissingText).toContain("受診日");
    expect(keyMissingText).toContain("実施日");
    expect(keyMissingText).toContain("健診システムで入力してから出力し直してください");
    expect(keyMissingText).not.toContain("exam-date");
    // The kind filter lists names, not bare codes.
    const kinds = await sender.getByLabel("コード", { exact: true }).locator("option").allTextContents();
    expect(kinds).toContain("受診者や受診日を特定する値がありません (RECORD_KEY_MISSING)");
    // The issue list downloads as a CP932 CSV named after the parties.
    const [issuesDownload] = await Promise.all([
      sender.waitForEvent("download"),
      sender.getByRole("button", { name: "指摘の一覧をダウンロード" }).click(),
    ]);
    expect(issuesDownload.suggestedFilename()).toMatch(
      /^指摘一覧_さくら健診センター_\(デモ\)_みなと健康保険組合_\(デモ\)_\d{8}\.csv$/,
    );
    const issuesCsv = iconv.decode(await downloadBytes(issuesDownload), "cp932");
    expect(issuesCsv.split("\r\n")[0]).toBe("行,重要度,指摘,列,項目,内容,直し方,コード");
    expect(issuesCsv.split("\r\n").filter((l) => l !== "").length).toBe(expected.issuesTotal + 1);
    expect(issuesCsv).toContain("受診日");
    const rows = issues.locator("tbody tr");
    expect(await rows.count()).toBe(expected.issuesTotal);
    const withColumn = expected.issues.find((i) => i.column !== undefined);
    if (withColumn?.column === undefined) throw new Error("the example has an issue with a column");
    const columnRow = rows.filter({ hasText: withColumn.code }).filter({ hasText: withColumn.column });
    expect(await columnRow.count()).toBeGreaterThan(0);
    expect(await columnRow.first().textContent()).toContain(String(withColumn.row));
    await saveScreenshot(sender, "transfer-sender");

    const errors = expected.issues.filter((i) => i.severity === "error");
    await sender.getByLabel("重要度", { exact: true }).selectOption({ label: "エラー" });
    await expectRowCount(rows, errors.length);
    for (const issue of errors) expect(await rows.filter({ hasText: issue.code }).count()).toBe(1);
    await sender.getByLabel("重要度", { exact: true }).selectOption({ label: "すべて" });
    await expectRowCount(rows, expected.issuesTotal);
  });

  it("送信確定 asks first (naming the rows not sent) → sent, and the sender's list shows 送信済み", async () => {
    const rejected = (await convertLocally(exampleExport())).summary.counts.rowsRejected;
    expect(rejected).toBeGreaterThan(0);
    await sender.getByRole("button", { name: "送信確定", exact: true }).click();
    const dialog = sender.getByRole("dialog", { name: "送信を確定しますか？" });
    await dialog.waitFor();
    const dialogText = (await dialog.textContent()) ?? "";
    expect(dialogText).toContain(RECEIVER_NAME);
    expect(dialogText).toContain(`エラーのある ${rejected} 行は送信されません`);
    // やめる: nothing happens.
    await dialog.getByRole("button", { name: "やめる" }).click();
    expect((await transferView(sender, transferId)).status).toBe("converted");
    await sender.getByRole("button", { name: "送信確定", exact: true }).click();
    await saveScreenshot(sender, "send-confirm");
    await dialog.getByRole("button", { name: "送信を確定する" }).click();
    await sender.getByText(`エラーで除いた ${rejected} 行は送信されていません`).waitFor();
    const view = await transferView(sender, transferId);
    expect(view.status).toBe("sent");
    await sender.goto("/transfers");
    await expectHeading(sender, "送信した転送");
    const row = sender.getByRole("row").filter({ hasText: RECEIVER_NAME });
    await row.filter({ hasText: "送信済み" }).waitFor();
    await saveScreenshot(sender, "transfers-sender");
  });

  it("a large upload is sealed from the file stream with progress and can be cancelled: nothing is stored", async () => {
    // ~40 MB: the example's rows repeated, so sealing and sending take long enough to press 中止.
    const text = readFileSync(EXPORT_PATH);
    const newline = text.indexOf("\r\n") + 2;
    const rows = text.subarray(newline);
    const big = Buffer.concat([
      text.subarray(0, newline),
      ...Array.from({ length: 40_000_000 / rows.length }, () => rows),
    ]);
    const bigPath = join(work, "large-export.csv");
    writeFileSync(bigPath, big);
    const db = suite.node().ctx.db;
    const transfers = () => db.prepare<[], { n: number }>("SELECT count(*) AS n FROM transfers").get()?.n;
    const before = transfers();
    await sender.goto("/send");
    await expectHeading(sender, "送信");
    await sender.getByLabel("送信先", { exact: true }).selectOption({ label: RECEIVER_NAME });
    await sender.getByLabel("送信するファイル", { exact: true }).setInputFiles(bigPath);
    await watchProgress(sender, "アップロードの進み具合");
    // Hold the sealed body on its way (bounded), so 中止 is pressed while it is being sent.
    let held = false;
    const upload = (url: URL) => url.pathname === "/api/v1/transfers" && url.searchParams.has("receiver");
    await sender.route(upload, async (route) => {
      held = true;
      await new Promise((resolve) => setTimeout(resolve, 20_000));
      await route.continue().catch(() => undefined);
    });
    await sender.getByRole("button", { name: "アップロード", exact: true }).click();
    const cancel = sender.getByRole("button", { name: "中止", exact: true });
    await cancel.waitFor();
    // Sealing reported how much of the file was done (a determinate bar) before anything was sent.
    await expect
      .poll(async () => (await progressSeen(sender)).some((p) => p.max > 1 && p.value > 0), {
        timeout: 60_000,
      })
      .toBe(true);
    // Sealing 40 MB in the page takes seconds on a quiet machine and far longer under a loaded suite
    // (seen: past 15 s at load 12); the route holds the body 20 s once it arrives.
    await expect.poll(() => held, { timeout: 60_000 }).toBe(true);
    await cancel.click();
    await sender.getByText("アップロードを中止しました。サーバーには何も保存されていません。").waitFor();
    expect(sender.url()).toMatch(/\/send$/);
    expect(transfers()).toBe(before);
    await sender.unrouteAll({ behavior: "ignoreErrors" });
  }, 180_000);

  it("the receiver downloads the standard CSV (progress bar): its SHA-256 is the transfer's standard hash", async () => {
    receiverContext = suite.problems.watchContext(await suite.browser().newPersonContext("receiver"));
    receiver = await receiverContext.newPage();
    const first = await firstLogin(receiver, suite.node().account("receiver"), {
      deviceLabel: "保険組合のパソコン",
    });
    expect(first.landing).toBe("/transfers");
    await expectHeading(receiver, "届いた転送");
    // The receiver's words: a new arrival, announced in the header and above the list.
    await receiver.locator("#new-arrivals").filter({ hasText: "新着 1 件" }).waitFor();
    await receiver.locator("#arrivals-notice").filter({ hasText: "新着の転送が 1 件" }).waitFor();
    expect(await receiver.getByRole("table").textContent()).not.toContain("送信済み");
    await saveScreenshot(receiver, "transfers-receiver");
    await receiver
      .getByRole("row")
      .filter({ hasText: "新着 (未ダウンロード)" })
      .getByRole("link", { name: "詳細" })
      .click();
    expect(await pathAfter(receiver, "/transfers")).toBe(`/transfers/${transferId}`);
    await expectHeading(receiver, "転送の詳細");

    await watchProgress(receiver, "ダウンロードの進み具合");
    const [download] = await Promise.all([
      receiver.waitForEvent("download"),
      receiver.getByRole("button", { name: "標準CSVをダウンロード" }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(
      /^健診結果_さくら健診センター_\(デモ\)_みなと健康保険組合_\(デモ\)_\d{8}\.csv$/,
    );
    downloaded = join(work, "standard.csv");
    await download.saveAs(downloaded);
    const bytes = readFileSync(downloaded);
    const view = await transferView(receiver, transferId);
    expect(view.standard).not.toBeNull();
    expect({ sha256: sha256Hex(bytes), bytes: bytes.length }).toEqual(view.standard);
    expect(bytes).toEqual((await convertLocally(exampleExport())).bytes);
    // The download's progress bar counted the opened bytes up to the standard CSV's size.
    const seen = await progressSeen(receiver);
    expect(seen.some((p) => p.max > 1 && p.value === p.max)).toBe(true);
    expect(view.status).toBe("downloaded");
  });

  it("受領確定 asks first → receipt confirmed; the trail is verified entry by entry, devices by name", async () => {
    await receiver.getByRole("button", { name: "受領確定", exact: true }).click();
    const dialog = receiver.getByRole("dialog", { name: "受領を確定しますか？" });
    await dialog.waitFor();
    await dialog.getByRole("button", { name: "受領を確定する" }).click();
    await receiver.getByText("受領を確定しました。").waitFor();
    // The header's new-arrival count follows: nothing new any more.
    await receiver.locator("#new-arrivals").waitFor({ state: "detached" });
    expect((await transferView(receiver, transferId)).status).toBe("received");

    const status = receiver.locator("#trail-status");
    await status.filter({ hasText: "すべての記録を検証しました" }).waitFor();
    const trail = receiver
      .getByRole("region", { name: "操作の証跡" })
      .getByRole("list")
      .first()
      .getByRole("listitem");
    const entries = await trail.allTextContents();
    expect(entries.length).toBeGreaterThanOrEqual(5);
    for (const text of entries) {
      expect(text).toContain("検証済み");
      expect(text).not.toContain("検証失敗");
    }
    for (const operation of ["アップロード", "送信確定", "ダウンロード", "受領確定"]) {
      expect(entries.some((t) => t.includes(operation))).toBe(true);
    }
    // Devices by the names people gave them, times in one format labelled Japan time.
    expect(entries.some((t) => t.includes("受付のパソコン"))).toBe(true);
    expect(entries.some((t) => t.includes("保険組合のパソコン"))).toBe(true);
    for (const text of entries) expect(text).toMatch(/\d{4}\/\d{2}\/\d{2} \d{2}:\d{2} 日本時間/);
    await saveScreenshot(receiver, "transfer-receiver");
  });

  it("after 受領確定 the data can be downloaded again, also as Excel copies (Shift_JIS, UTF-8 with BOM)", async () => {
    const standard = readFileSync(downloaded);
    const again = receiver.getByRole("button", { name: "もう一度ダウンロード" });
    await receiver.getByLabel("Excel用 (Shift_JIS)", { exact: true }).check();
    const [cp932] = await Promise.all([receiver.waitForEvent("download"), again.click()]);
    expect(cp932.suggestedFilename()).toMatch(/_Excel用\.csv$/);
    const cp932Bytes = await downloadBytes(cp932);
    expect(iconv.decode(cp932Bytes, "cp932")).toBe(standard.toString("utf8"));
    writeFileSync(join(work, "excel-cp932.csv"), cp932Bytes);

    await receiver.getByLabel("Excel用 (UTF-8 BOM付き)", { exact: true }).check();
    const [bom] = await Promise.all([receiver.waitForEvent("download"), again.click()]);
    const bomBytes = await downloadBytes(bom);
    expect([...bomBytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(bomBytes.subarray(3)).toEqual(standard);
    expect((await transferView(receiver, transferId)).status).toBe("received");
  });

  it("the verify page: the downloaded file is verified; a copy with one byte changed is not", async () => {
    await receiver.goto("/verify");
    await expectHeading(receiver, "検証");
    const result = receiver.locator("#verify-result");

    await receiver.getByLabel("検証するファイル", { exact: true }).setInputFiles(downloaded);
    await receiver.getByRole("button", { name: "ファイルを検証" }).click();
    await result.filter({ hasText: "改ざんされていません" }).waitFor();
    expect(await result.textContent()).toContain("さくら健診センター");
    await saveScreenshot(receiver, "verify-ok");

    const changed = Buffer.from(readFileSync(downloaded));
    const at = changed.length - 10;
    changed[at] = (changed[at] ?? 0) ^ 0x01;
    const changedPath = join(work, "standard-changed.csv");
    writeFileSync(changedPath, changed);
    await receiver.getByLabel("検証するファイル", { exact: true }).setInputFiles(changedPath);
    await receiver.getByRole("button", { name: "ファイルを検証" }).click();
    // Not this file: checked record by record — one record changed, the others still proven.
    await result.filter({ hasText: "このファイルは変更されています" }).waitFor();
    const changedText = (await result.textContent()) ?? "";
    expect(changedText).not.toContain("改ざんされていません");
    const records = result.getByRole("table", { name: "レコードごとの結果" }).locator("tbody tr");
    const count = await records.count();
    expect(count).toBeGreaterThan(1);
    expect(await records.filter({ hasText: "記録と一致しません" }).count()).toBe(1);
    expect(await records.filter({ hasText: "送信されたときのまま" }).count()).toBe(count - 1);
    expect(changedText).toContain(`${count} 件のうち ${count - 1} 件のレコードは送信されたときのまま`);
    await saveScreenshot(receiver, "verify-changed");

    // The Excel (Shift_JIS) copy: another file, but every record is proven.
    await receiver
      .getByLabel("検証するファイル", { exact: true })
      .setInputFiles(join(work, "excel-cp932.csv"));
    await receiver.getByRole("button", { name: "ファイルを検証" }).click();
    await result.filter({ hasText: "レコードごとに検証しました" }).waitFor();
    expect(await result.textContent()).toContain(`${count} 件のレコードはすべて`);
  });

  it("past the retention time the payload is deleted and the sender's list shows 削除済み", async () => {
    const node = suite.node();
    node.clock.advance((node.ctx.config.retention.afterReceiptDays + 1) * DAY_MS);
    expect((await runRetention(node.ctx)).deleted).toBe(1);
    expect(transferRow(node.ctx, transferId)?.status).toBe("deleted");

    // The session has long expired: the sender logs in again (this browser's device is known).
    await sender.goto("/transfers");
    if (new URL(sender.url()).pathname === "/login" || (await isLoginPage(sender))) {
      await logIn(sender, senderPerson);
      await pathAfter(sender, "/login");
      await sender.goto("/transfers");
    }
    await expectHeading(sender, "送信した転送");
    await sender
      .getByRole("row")
      .filter({ hasText: RECEIVER_NAME })
      .filter({ hasText: "削除済み" })
      .waitFor();
    await saveScreenshot(sender, "transfers-deleted");
  });

  it("no console error, CSP violation, page error or 5xx on any page of the flow", async () => {
    await senderContext.close();
    await receiverContext.close();
    expect(suite.problems.messages).toEqual([]);
  });
});

async function transferView(page: Page, id: string): Promise<TransferView> {
  const r = await apiGet(page, `/api/v1/transfers/${id}`);
  expect(r.status).toBe(200);
  return (r.json as { transfer: TransferView }).transfer;
}

async function isLoginPage(page: Page): Promise<boolean> {
  await page.getByRole("heading", { level: 1 }).first().waitFor();
  return (await page.getByRole("heading", { level: 1, name: "ログイン", exact: true }).count()) > 0;
}

async function expectRowCount(rows: Locator, n: number): Promise<void> {
  await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(n);
}
