/**
 * Issue 11's "users on healthy nodes never see a failure", in chromium through haproxy, with a real
 * quarantine: the whole replicated service (test/support/service-cluster.ts: haproxy in TLS
 * pass-through with `balance source`, 3 `kenshin serve` + the offline node on real etcd 3.4). The sender
 * sends the example export in the browser; the receiver — a second browser context — logs in on the
 * node haproxy sends the browser to (every connection comes from 127.0.0.1, so one node serves them all)
 * and opens the transfer. Then that node has the transfer's own upload entry edited in its ledger.db,
 * again after each repair, and the receiver downloads the standard CSV: the download meets the damage on
 * that node (503 INTEGRITY_FAILURE, nothing done), which quarantines itself at once; the page's wrapper
 * (web/src/api.ts, envelope-transfer.ts) asks again and a healthy node serves it. The receiver does
 * 受領確定 and sees the trail verified, with no error on any page: the only 5xx any page got are the
 * coded refusals the wrapper sent again, and no error message was shown.
 * Then the node repairs the entry from a peer, records a `repair` entry, rejoins haproxy, and every
 * node's ledger passes fsck with the same size and root.
 *
 * Only what a person does: form fills, clicks, navigation. Nothing is sent again by the test; what is
 * sent again is what the page's own wrapper (web/src/api.ts) and the browser do.
 */
import Database from "better-sqlite3";
import { setTimeout as sleep } from "node:timers/promises";
import type { BrowserContext, Page, Response } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unprocessedRefusal } from "../../src/client/refused-unprocessed.js";
import { haproxyServed } from "../../src/cluster/processes/haproxy.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { UNMERGED_KEY_ROWS } from "../../src/store/sqlite-log-schema.js";
import { editEntryBytes } from "../cluster/damage.js";
import { sha256Hex, useServiceCluster } from "../support/service-cluster.js";
import {
  fsckEach,
  ledgerDbOf,
  repairEntries,
  repairRecords,
  watchHealth,
  type HealthWatch,
} from "../support/tamper-checks.js";
import { convertLocally, exampleExport, EXPORT_PATH } from "../support/transfer-fixtures.js";
import { launchBrowser, PageProblems, type E2eBrowser } from "./support/browser.js";
import {
  apiGet,
  downloadBytes,
  expectHeading,
  firstLogin,
  pathAfter,
  transferIdOf,
} from "./support/ui-steps.js";

// The serving nodes inherit the environment: a full check of each copy every 4 s — seldom enough that
// the download right after the edit meets the damage before the schedule does, often enough that an edit
// no request met is found and repaired within the test.
process.env["KENSHIN_INTEGRITY_CHECK_MS"] = "4000";
const cluster = useServiceCluster();
const ALL = ["node1", "node2", "node3", "backup"];
const ONLINE = ["node1", "node2", "node3"];
const RECEIVER_NAME = "みなと健康保険組合 (デモ)";

interface TransferView {
  readonly id: string;
  readonly status: string;
  readonly standard: { sha256: string; bytes: number } | null;
}

/** The first entry under a transfer's lookup key in `ledgerDb` (main table and unmerged rows). */
function firstEntryOf(ledgerDb: string, transfer: string): number {
  const db = new Database(ledgerDb, { readonly: true });
  try {
    const row = db
      .prepare<[string, string], { idx: number }>(
        `SELECT idx FROM entry_keys WHERE key = ? UNION SELECT idx FROM (${UNMERGED_KEY_ROWS}) WHERE key = ? ORDER BY idx LIMIT 1`,
      )
      .get(`transfer:${transfer}`, `transfer:${transfer}`);
    if (row === undefined) throw new Error(`no entry of ${transfer} in ${ledgerDb}`);
    return row.idx;
  } finally {
    db.close();
  }
}

/**
 * Every 503 the pages of a context got, with its code, read as they come (the response listener cannot
 * wait): what web/src/api.ts saw refused and, for a refusal of a request nothing was done with, sent again.
 */
function watch503(context: BrowserContext): {
  readonly seen: () => Promise<{ url: string; code: string }[]>;
} {
  const reads: Promise<{ url: string; code: string }>[] = [];
  context.on("response", (response: Response) => {
    if (response.status() !== 503) return;
    reads.push(
      response
        .text()
        .then((text) => {
          const body = JSON.parse(text) as { issue?: { details?: { coding?: { code?: string }[] } }[] };
          return { url: response.url(), code: body.issue?.[0]?.details?.coding?.[0]?.code ?? "HTTP_503" };
        })
        .catch(() => ({ url: response.url(), code: "UNREADABLE" })),
    );
  });
  return { seen: () => Promise.all(reads) };
}

async function transferView(page: Page, id: string): Promise<TransferView> {
  const r = await apiGet(page, `/api/v1/transfers/${id}`);
  expect(r.status).toBe(200);
  return (r.json as { transfer: TransferView }).transfer;
}

describe("chromium through haproxy while the node serving the browser is quarantined for real", () => {
  const problems = new PageProblems();
  let browser: E2eBrowser | undefined;
  let senderContext: BrowserContext | undefined;
  let receiverContext: BrowserContext | undefined;
  let health: HealthWatch | undefined;

  beforeAll(async () => {
    const c = cluster();
    browser = await launchBrowser({
      demo: { caCertificate: c.files.caCert },
      server: { port: c.topology.frontend.port },
      account: (role) => c.account(role),
    });
  }, 120_000);

  afterAll(async () => {
    await health?.stop();
    await senderContext?.close();
    await receiverContext?.close();
    await browser?.close();
  });

  it("the receiver is served (download, 受領確定, trail verified) while the sender's node repairs; it rejoins", async () => {
    const c = cluster();
    if (browser === undefined) throw new Error("chromium did not start");

    // The sender sends the example export in the browser.
    senderContext = problems.watchContext(await browser.newPersonContext("sender"));
    const sender = await senderContext.newPage();
    const first = await firstLogin(sender, c.account("sender"), { deviceLabel: "受付のパソコン" });
    expect(first.landing).toBe("/send");
    await sender.getByLabel("送信先", { exact: true }).selectOption({ label: RECEIVER_NAME });
    await sender.getByLabel("送信するファイル", { exact: true }).setInputFiles(EXPORT_PATH);
    await sender.getByRole("button", { name: "アップロード", exact: true }).click();
    expect(await pathAfter(sender, "/send")).toMatch(/^\/transfers\/tr_[a-z2-7]{16}$/);
    const transferId = transferIdOf(sender);
    await expectHeading(sender, "転送の詳細");
    const rejected = (await convertLocally(exampleExport())).summary.counts.rowsRejected;
    await sender.getByRole("button", { name: "送信確定", exact: true }).click();
    const sendDialog = sender.getByRole("dialog", { name: "送信を確定しますか？" });
    await sendDialog.getByRole("button", { name: "送信を確定する" }).click();
    await sender.getByText(`エラーで除いた ${rejected} 行は送信されていません`).waitFor();
    const sent = await transferView(sender, transferId);
    expect(sent.status).toBe("sent");
    if (sent.standard === null) throw new Error("the sent transfer has no standard file");

    // The node serving this browser: haproxy hashes the source address, and every connection (the
    // browser's, through Playwright's certificate proxy) comes from 127.0.0.1.
    const victim = await c.busiest();
    expect(ONLINE).toContain(victim);
    await c.waitSamePosition(ALL);
    for (const name of ONLINE) await c.waitBackend(name, "UP", 60_000);
    const ledgerDb = ledgerDbOf(c, victim);
    expect(repairEntries(ledgerDb)).toEqual([]);

    // The receiver opens the login page: served by the same node, its connections kept open there.
    receiverContext = problems.watchContext(await browser.newPersonContext("receiver"));
    const refused503 = watch503(receiverContext);
    const receiver = await receiverContext.newPage();
    await receiver.goto("/login");
    await expectHeading(receiver, "ログイン");

    // An attacker with file access edits one character of the transfer's own upload entry on that node,
    // once the receiver has the transfer open (a list on that node leaves a transfer whose entries do
    // not verify out, and raises the alarm), and keeps at it: once the node has repaired it and serves
    // again, the same edit a second later. The receiver's download right after the edit meets the damage
    // on that node before its own check does (503 INTEGRITY_FAILURE: nothing was done; the node asks for
    // its check at once and quarantines itself), and the later steps meet it again after each repair.
    health = await watchHealth(c, victim);
    const states = health.states;
    const index = firstEntryOf(ledgerDb, transferId);
    const servedBefore = await haproxyServed(c.files.haproxySocket);
    const attack = { on: false, edits: 0 };
    const edit = (): void => {
      editEntryBytes({ dir: c.files.nodeDir(victim), ledgerPath: ledgerDb }, index);
      attack.edits += 1;
    };
    let attacker: Promise<void> = Promise.resolve();
    const startAttack = (): void => {
      attack.on = true;
      edit();
      attacker = (async () => {
        // Read through a function: the loop's condition does not hold across the awaits.
        const attacking = (): boolean => attack.on;
        while (attacking()) {
          await sleep(200);
          if (repairEntries(ledgerDb).length < attack.edits || states.at(-1) !== "healthy") continue;
          await sleep(1000);
          if (attacking()) edit();
        }
      })();
    };
    try {
      const landed = await firstLogin(receiver, c.account("receiver"), { deviceLabel: "保険組合のパソコン" });
      expect(landed.landing).toBe("/transfers");
      await expectHeading(receiver, "届いた転送");
      await receiver
        .getByRole("row")
        .filter({ hasText: "新着 (未ダウンロード)" })
        .getByRole("link", { name: "詳細" })
        .click();
      expect(await pathAfter(receiver, "/transfers")).toBe(`/transfers/${transferId}`);
      await expectHeading(receiver, "転送の詳細");
      startAttack();
      const [download] = await Promise.all([
        receiver.waitForEvent("download"),
        receiver.getByRole("button", { name: "標準CSVをダウンロード" }).click(),
      ]);
      const bytes = await downloadBytes(download);
      expect({ sha256: sha256Hex(bytes), bytes: bytes.length }).toEqual(sent.standard);
      // Served by a healthy node, and the person was shown no error on the way.
      expect(await receiver.locator(".message.error").allTextContents()).toEqual([]);
      await receiver.getByRole("button", { name: "受領確定", exact: true }).click();
      const receiptDialog = receiver.getByRole("dialog", { name: "受領を確定しますか？" });
      await receiptDialog.getByRole("button", { name: "受領を確定する" }).click();
      await receiver.getByText("受領を確定しました。").waitFor();
      // The page says so first and then loads the trail again (web/src/pages/transfer-page.tsx `act`):
      // the receipt's entry shows once that load is in, verified like the others.
      const items = receiver
        .getByRole("region", { name: "操作の証跡" })
        .getByRole("list")
        .first()
        .getByRole("listitem");
      await expect
        .poll(async () => (await items.allTextContents()).some((t) => t.startsWith("受領確定")), {
          timeout: 30_000,
        })
        .toBe(true);
      await receiver.locator("#trail-status").filter({ hasText: "すべての記録を検証しました" }).waitFor();
      const trail = await items.allTextContents();
      for (const operation of ["アップロード", "送信確定", "ダウンロード", "受領確定"]) {
        expect(trail.join("\n")).toContain(operation);
      }
      for (const text of trail) expect(text).not.toContain("検証失敗");
      expect(await receiver.locator(".message.error").allTextContents()).toEqual([]);
      expect((await transferView(receiver, transferId)).status).toBe("received");
    } catch (error) {
      // What the person saw, to tell a failure the page showed from a slow step.
      const text = await receiver
        .locator("main")
        .innerText({ timeout: 2000 })
        .catch(() => "?");
      throw new Error(
        `${error instanceof Error ? error.message : String(error)}\n` +
          `page ${receiver.url()}: ${text}\nproblems: ${problems.messages.join(" | ")}\n` +
          `${victim} states: ${states.join(", ")}`,
        { cause: error },
      );
    } finally {
      attack.on = false;
      await attacker;
    }
    const duringReceiver = [...states];
    const servedAfter = await haproxyServed(c.files.haproxySocket);

    // The node repairs the entry from a peer, records it, and rejoins.
    const repairs = await waitFor(
      () => {
        const found = repairEntries(ledgerDb);
        return Promise.resolve(found.length >= attack.edits ? found : undefined);
      },
      { what: `${attack.edits} repair entries on ${victim}`, timeoutMs: 90_000, intervalMs: 250 },
    );
    expect(repairs).toHaveLength(attack.edits);
    const repaired = repairs.at(-1);
    await waitFor(() => Promise.resolve(states.at(-1) === "healthy" ? true : undefined), {
      what: `${victim} healthy again`,
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    await c.waitBackend(victim, "UP", 60_000);
    const fact = await health.fact();
    expect(fact.repairs.at(-1)?.entryIndex).toBe(repaired);
    expect(fact.repairs.at(-1)?.fromNode).not.toBe(victim);
    // The repair entry: the victim's, the damaged entry in its range, proven against a checkpoint.
    const record = JSON.parse(repairRecords(ledgerDb).at(-1)?.text ?? "{}") as {
      node?: string;
      sourceNode?: string;
      range?: { from: number; to: number };
      checkpoint?: { size: number };
    };
    expect(record.node).toBe(victim);
    expect(record.sourceNode).not.toBe(victim);
    expect(record.range?.from).toBeLessThanOrEqual(index);
    expect(record.range?.to).toBeGreaterThan(index);
    expect(record.checkpoint?.size).toBeGreaterThan(index);
    expect(states).toContain("repairing");
    // The node was quarantined before the receiver was done, and haproxy moved the browser off it:
    // with `balance source` only a node that stopped serving sends 127.0.0.1's connections elsewhere.
    expect(duringReceiver).toContain("quarantined");
    const movedOff = ONLINE.filter((n) => n !== victim).map(
      (n) => (servedAfter[n] ?? 0) - (servedBefore[n] ?? 0),
    );
    expect(movedOff.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);

    // Every copy is whole again and they agree: the same size and root, the repair on every node.
    const position = await c.waitSamePosition(ALL);
    expect(position.seq).toBeGreaterThan(0);
    const fsck = fsckEach(c, ALL);
    const roots = new Set<string>();
    for (const [name, result] of fsck) {
      expect([name, result.ok]).toEqual([name, true]);
      if (result.ok) roots.add(`${result.size} ${result.root}`);
    }
    expect(roots.size).toBe(1);
    for (const name of ALL) {
      expect([name, repairEntries(ledgerDbOf(c, name))]).toEqual([name, repairs]);
    }

    // The 503s the receiver's pages got are the coded refusals of requests nothing was done with, which
    // the wrapper sent again — at least one the damage itself (the download on the damaged node); every
    // other problem on any page of either person would be listed.
    const refusals = await refused503.seen();
    process.stdout.write(
      `cluster-quarantine: the receiver's pages met ${refusals.length} refusals sent again: ` +
        `${refusals.map((r) => `${r.code} ${new URL(r.url).pathname}`).join(", ")}; ${attack.edits} edits\n`,
    );
    expect(refusals.filter((r) => unprocessedRefusal(503, r.code) === undefined)).toEqual([]);
    expect(refusals.map((r) => r.code)).toContain("INTEGRITY_FAILURE");
    const refusedUrls = new Set(refusals.map((r) => r.url));
    const other = problems.messages.filter((m) => {
      const sentAgain = [...refusedUrls].some(
        (url) =>
          (m.startsWith("503 for ") && m.endsWith(` ${url}`)) ||
          (m.includes("status of 503") && m.endsWith(`(${url})`)),
      );
      return !sentAgain;
    });
    expect(other).toEqual([]);
  }, 420_000);
});
