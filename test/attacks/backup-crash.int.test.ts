/**
 * Attack 5 (issue 15): kill -9 during `kenshin backup create`, and backups after `kenshin keys rotate`.
 * Before the fix a killed backup left plaintext snapshots of service.db and ledger.db (mode 0644) and
 * `.part` files that nothing removed for an hour (so a transfer deleted by retention could come back
 * from one); a kill during the very first backup could leave an empty `keys/backup.key` after which every
 * backup failed; and `backup verify` said ok:true for a backup whose payloads the node could no longer
 * open. Real node (demo data directory, a real upload through real TLS), the real CLI as child
 * processes killed with SIGKILL while their snapshot is on disk.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadExport } from "../../src/client/transfer-client.js";
import { backupKeyPath } from "../../src/service/backup/backup.js";
import { dataPaths } from "../../src/service/data-dir.js";
import { initDataDir } from "../../src/service/node.js";
import { startServer } from "../../src/server/serve.js";
import { HOST, expectStatus } from "../support/test-node.js";
import { exampleExport, startTransferNode, type TransferNode } from "../support/transfer-fixtures.js";

const CLI = join(process.cwd(), "dist/cli/main.js");

function cli(args: readonly string[]): { status: number | null; json: Record<string, unknown> } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000 });
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    json = { stdout: r.stdout, stderr: r.stderr };
  }
  return { status: r.status, json };
}

/** Every file and directory under `dir` whose name says it is a backup's working material. */
function leftovers(dataDir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dataDir)) {
    if (name.startsWith(".backup-work-") || name.startsWith("restore-previous-")) out.push(name);
  }
  const backups = join(dataDir, "backups");
  if (existsSync(backups)) {
    for (const name of readdirSync(backups)) if (!/^kenshin-.*\.kxb$/.test(name)) out.push(`backups/${name}`);
  }
  for (const name of readdirSync(join(dataDir, "keys"))) if (name.includes(".tmp")) out.push(`keys/${name}`);
  return out;
}

/** Files of the working directories with group or other permission bits (plaintext readable by others). */
function exposed(dataDir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dataDir).filter((n) => n.startsWith(".backup-work-"))) {
    const dir = join(dataDir, name);
    if ((statSync(dir).mode & 0o077) !== 0) out.push(name);
    for (const f of readdirSync(dir))
      if ((statSync(join(dir, f)).mode & 0o077) !== 0) out.push(`${name}/${f}`);
  }
  return out;
}

/**
 * Starts `kenshin backup create` and kills it with SIGKILL as soon as a plaintext snapshot file exists
 * in its working directory (polled; bounded). Returns whether the kill landed mid-backup.
 */
async function killDuringSnapshot(dataDir: string): Promise<boolean> {
  const child = spawn(process.execPath, [CLI, "backup", "create", "--data", dataDir], { stdio: "ignore" });
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      resolve();
    }),
  );
  const until = Date.now() + 30_000;
  let landed = false;
  while (Date.now() < until && child.exitCode === null) {
    const work = readdirSync(dataDir).filter((n) => n.startsWith(".backup-work-"));
    if (work.some((w) => existsSync(join(dataDir, w, "service.db")))) {
      child.kill("SIGKILL");
      landed = true;
      break;
    }
    await new Promise((r) => setImmediate(r));
  }
  if (child.exitCode === null) child.kill("SIGKILL");
  await exited;
  return landed;
}

let t: TransferNode;
let dir: string;

beforeAll(async () => {
  t = await startTransferNode();
  dir = t.node.dir;
  const up = await uploadExport(t.sender, t.receiverId, exampleExport());
  expectStatus(up, 201);
  // Bulk in service.db, so a backup spends long enough with its snapshot on disk for the kill to land.
  const db = new Database(t.node.ctx.paths.serviceDb);
  db.exec("CREATE TABLE IF NOT EXISTS attack_filler (b BLOB)");
  const insert = db.prepare("INSERT INTO attack_filler (b) VALUES (randomblob(1048576))");
  for (let i = 0; i < 48; i++) insert.run();
  db.close();
});

afterAll(async () => {
  await t.node.close();
});

describe("attack: kill -9 during backup create", () => {
  it("leaves snapshots only owner-only in a private directory, and the next backup removes them: only finished encrypted generations survive", async () => {
    expect(await killDuringSnapshot(dir)).toBe(true);
    expect(leftovers(dir).length).toBeGreaterThan(0);
    expect(exposed(dir)).toEqual([]);
    const next = cli(["backup", "create", "--data", dir]);
    expect(next.status).toBe(0);
    expect(leftovers(dir)).toEqual([]);
  });

  it("removes what a killed backup left when the server starts", async () => {
    expect(await killDuringSnapshot(dir)).toBe(true);
    expect(leftovers(dir).length).toBeGreaterThan(0);
    // A second server on the same data directory, as a restart after the crash would be.
    const server = await startServer(dir, { port: 0, host: HOST, env: {} });
    try {
      expect(leftovers(dir)).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe("attack: kill -9 during the very first backup (the backup key is made then)", () => {
  it("a backup key left empty by a killed first backup does not block every later backup", async () => {
    const fresh = await mkdtemp(join(tmpdir(), "kenshin-attack-key-"));
    try {
      await initDataDir(join(fresh, "node"), { config: { listen: { host: HOST, port: 0 } } });
      const node = join(fresh, "node");
      const keyFile = backupKeyPath(dataPaths(node));
      // What a kill between creating and writing the key left: an empty file (no backup was made).
      await writeFile(keyFile, "", { mode: 0o600 });
      const r = cli(["backup", "create", "--data", node]);
      expect({ status: r.status, code: r.json["code"] }).toEqual({ status: 0, code: undefined });
      expect((await stat(keyFile)).size).toBeGreaterThan(0);
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      expect(cli(["backup", "verify", "--data", node, r.json["file"] as string]).json["ok"]).toBe(true);
      expect(leftovers(node)).toEqual([]);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });
});

describe("attack: restore an old backup after `keys rotate`", () => {
  it("`backup verify` names every payload it can no longer open (exit 1) instead of answering ok", () => {
    const made = cli(["backup", "create", "--data", dir]);
    expect(made.status).toBe(0);
    const file = made.json["file"] as string;
    const before = cli(["backup", "verify", "--data", dir, file]);
    expect(before.status).toBe(0);
    const payloads = before.json["payloads"] as { checked: number; unreadable: unknown[] };
    expect(payloads.checked).toBeGreaterThan(0);
    expect(payloads.unreadable).toEqual([]);
    expect(cli(["keys", "rotate", "--data", dir]).status).toBe(0);
    const after = cli(["backup", "verify", "--data", dir, file]);
    expect(after.status).toBe(1);
    expect(after.json).toMatchObject({ ok: false, code: "BACKUP_PAYLOADS_UNREADABLE" });
    const unreadable = (after.json["payloads"] as { unreadable: { transferId: string; code: string }[] })
      .unreadable;
    expect(unreadable.length).toBe(payloads.checked);
    for (const u of unreadable) expect(u.code).toBe("PAYLOAD_KEK_MISMATCH");
  });
});
