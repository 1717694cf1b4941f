/**
 * Issue 11, crypto-shredding in a node's own backups: a generation made by `kenshin backup create`
 * before a transfer is physically deleted (retention) loses that transfer's data key and payload once
 * the running server's scrub round has been through it, like the offline node's generations do. Real
 * node (demo data directory, real TLS, uploads through the client), the real CLI as child processes
 * (`backup create | verify | restore`), the generation opened with the node's backup key and its
 * unpacked service.db searched byte for byte (the wrapped key as bytes and as base64). A round is put
 * off while a backup of another process has its working directory open.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import { loadKek } from "../src/crypto/kek-file.js";
import { readBackupFile } from "../src/service/backup/backup-file.js";
import { loadBackupKey } from "../src/service/backup/backup-key.js";
import { workPrefix } from "../src/service/backup/backup-leftovers.js";
import { scrubGenerations } from "../src/service/backup/generation-scrub.js";
import { pendingScrubCount } from "../src/service/backup/generation-scrub-queue.js";
import { dataPaths } from "../src/service/data-dir.js";
import { closeNode, openNode } from "../src/service/node.js";
import { runRetention } from "../src/service/transfers/retention.js";
import type { TransferView } from "../src/service/transfers/view.js";
import { readPayload } from "../src/store/payload-store.js";
import { expectStatus } from "./support/test-node.js";
import { exampleExport, startTransferNode, type TransferNode } from "./support/transfer-fixtures.js";

const CLI = join(process.cwd(), "dist/cli/main.js");
const DAY_MS = 86_400_000;
/** Bounded waits for the server's scrub round (it looks at its queue every 2 s). */
const SCRUB_WAIT_MS = 30_000;

function cli(args: readonly string[]): { status: number | null; json: Record<string, unknown> } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000 });
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    json = { stdout: r.stdout, stderr: r.stderr };
  }
  return { status: r.status, json };
}

let t: TransferNode;
let dir: string;
let serverClosed = false;
let gone: TransferView;
let kept: TransferView;
let goneKey: Buffer;
let keptKey: Buffer;
let keptSha256: string;
let generation: string;
let takenSha256: string;

/** What a generation's service.db holds of a transfer, and whether its raw bytes contain a key. */
interface Look {
  readonly keyRows: number;
  readonly payloadRows: number;
  readonly status: string | undefined;
  readonly holdsKey: (key: Buffer) => boolean;
}

/** Opens the generation with the node's backup key into a private directory and looks inside. */
async function look(file: string, transferId: string): Promise<Look> {
  const work = await mkdtemp(join(tmpdir(), "kenshin-look-"));
  try {
    await chmod(work, 0o700);
    await readBackupFile({ file, key: await loadBackupKey(dataPaths(dir)), dir: work });
    const path = join(work, "service.db");
    const db = new Database(path, { readonly: true, fileMustExist: true });
    const count = (sql: string): number => db.prepare<[string], { n: number }>(sql).get(transferId)?.n ?? 0;
    let result: Omit<Look, "holdsKey">;
    try {
      result = {
        keyRows: count("SELECT count(*) AS n FROM transfer_keys WHERE transfer_id = ?"),
        payloadRows: count("SELECT count(*) AS n FROM payload_chunks WHERE transfer_id = ?"),
        status: db
          .prepare<[string], { status: string }>("SELECT status FROM transfers WHERE id = ?")
          .get(transferId)?.status,
      };
    } finally {
      db.close();
    }
    // The main file and anything beside it (a copy is a single file, but look at all of it).
    const raw = Buffer.concat(
      ["", "-wal", "-journal"].filter((s) => existsSync(path + s)).map((s) => readFileSync(path + s)),
    );
    return {
      ...result,
      holdsKey: (key) => raw.includes(key) || raw.includes(Buffer.from(key.toString("base64"))),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function wrappedKey(id: string): Buffer {
  const row = t.node.ctx.db
    .prepare<[string], { wrapped_key: Buffer }>("SELECT wrapped_key FROM transfer_keys WHERE transfer_id = ?")
    .get(id);
  if (row === undefined) throw new Error(`no key row for ${id}`);
  return row.wrapped_key;
}

function sha256Of(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

beforeAll(async () => {
  t = await startTransferNode();
  dir = t.node.dir;
  const up = async (): Promise<TransferView> => {
    const r = await uploadExport(t.sender, t.receiverId, exampleExport());
    expectStatus(r, 201);
    return (r.json as { transfer: TransferView }).transfer;
  };
  gone = await up();
  kept = await up();
  for (const id of [gone.id, kept.id]) expectStatus(await t.sender.post(`/api/v1/transfers/${id}/send`), 200);
  const down = await downloadStandard(t.receiver, gone.id);
  if ("refused" in down) throw new Error(down.refused.text);
  expectStatus(await t.receiver.post(`/api/v1/transfers/${gone.id}/receipt`), 200);
  goneKey = wrappedKey(gone.id);
  keptKey = wrappedKey(kept.id);
  const hash = createHash("sha256");
  const kek = await loadKek(t.node.ctx.paths.kek);
  for await (const chunk of readPayload(t.node.ctx.db, kek, kept.id, "standard")) hash.update(chunk);
  keptSha256 = hash.digest("hex");
}, 120_000);

afterAll(async () => {
  if (serverClosed) rmSync(dir, { recursive: true, force: true });
  else await t.node.close();
});

describe("`kenshin backup create` generations follow a physical deletion", () => {
  it("a generation taken before retention deletes a transfer loses its key and payload rows; it still verifies", async () => {
    const made = cli(["backup", "create", "--data", dir]);
    expect(made.status).toBe(0);
    generation = made.json["file"] as string;
    takenSha256 = made.json["sha256"] as string;
    const before = await look(generation, gone.id);
    // What the test looks for is there to be found.
    expect(before).toMatchObject({ keyRows: 1, status: "received" });
    expect(before.payloadRows).toBeGreaterThan(0);
    expect(before.holdsKey(goneKey)).toBe(true);

    // A backup of another process has its working directory open (between its snapshot and its file):
    // a round does nothing and keeps the queue, since that backup may hold what the round would scrub.
    const busy = await mkdtemp(join(dir, workPrefix()));
    t.node.clock.advance((t.node.ctx.config.retention.afterReceiptDays + 1) * DAY_MS);
    expect((await runRetention(t.node.ctx)).deleted).toBe(1);
    expect(pendingScrubCount(t.node.ctx.db)).toBe(1);
    const put = await scrubGenerations({
      db: t.node.ctx.db,
      paths: t.node.ctx.paths,
      random: t.node.ctx.random,
    });
    expect(put.deferred).toBe(true);
    expect(pendingScrubCount(t.node.ctx.db)).toBe(1);
    expect(sha256Of(generation)).toBe(takenSha256);
    await rm(busy, { recursive: true, force: true });

    // The server's own round (every 2 s) now rewrites the generation: bounded wait.
    const until = Date.now() + SCRUB_WAIT_MS;
    while (pendingScrubCount(t.node.ctx.db) > 0 && Date.now() < until) await sleep(200);
    expect(pendingScrubCount(t.node.ctx.db)).toBe(0);
    expect(sha256Of(generation)).not.toBe(takenSha256);

    const after = await look(generation, gone.id);
    expect(after).toMatchObject({ keyRows: 0, payloadRows: 0, status: "received" });
    expect(after.holdsKey(goneKey)).toBe(false);
    const live = await look(generation, kept.id);
    expect(live.keyRows).toBe(1);
    expect(live.payloadRows).toBeGreaterThan(0);
    expect(live.holdsKey(keptKey)).toBe(true);

    const verified = cli(["backup", "verify", "--data", dir, generation]);
    expect(verified.status).toBe(0);
    expect(verified.json).toMatchObject({ ok: true, fsck: { ok: true }, payloads: { unreadable: [] } });
    expect((verified.json["payloads"] as { checked: number }).checked).toBeGreaterThan(0);
  }, 180_000);

  it("a restore from that generation brings the deleted transfer back without key or payload; retention deletes it again and the kept transfer reads with its hash", async () => {
    expect(generation).toBeDefined();
    await t.node.server.close();
    serverClosed = true;
    const restored = cli(["backup", "restore", "--data", dir, generation]);
    expect(restored.status).toBe(0);
    expect(restored.json["ok"]).toBe(true);

    const ctx = await openNode(dir, { clock: t.node.clock, env: {} });
    try {
      const rows = (sql: string, id: string): number =>
        ctx.db.prepare<[string], { n: number }>(sql).get(id)?.n ?? 0;
      expect(rows("SELECT count(*) AS n FROM transfer_keys WHERE transfer_id = ?", gone.id)).toBe(0);
      expect(rows("SELECT count(*) AS n FROM payload_chunks WHERE transfer_id = ?", gone.id)).toBe(0);
      // The row is as the generation's ledger commits to it; the node's retention deletes it again.
      expect((await runRetention(ctx)).deleted).toBe(1);
      const status = ctx.db
        .prepare<[string], { status: string }>("SELECT status FROM transfers WHERE id = ?")
        .get(gone.id)?.status;
      expect(status).toBe("deleted");
      const hash = createHash("sha256");
      for await (const chunk of readPayload(ctx.db, await loadKek(ctx.paths.kek), kept.id, "standard"))
        hash.update(chunk);
      expect(hash.digest("hex")).toBe(keptSha256);
    } finally {
      closeNode(ctx);
    }
  }, 180_000);
});
