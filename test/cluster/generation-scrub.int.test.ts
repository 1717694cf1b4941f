/**
 * Crypto-shredding reaches the offline node's backup generations (issue 11: "their data keys are gone
 * everywhere, including in the offline node's generations"), on the whole replicated service
 * (test/support/service-cluster.ts: haproxy + 3 `kenshin serve` + `kenshin cluster offline` on real etcd
 * 3.4). The offline node keeps every generation here (`backup.keep` raised), so pruning cannot make a
 * generation lose the key: a generation taken while the transfer was live holds its KEK-wrapped data key
 * (service.db `transfer_keys`, the manifest in chunks.db; searched as bytes and as base64 in every file
 * the generation opens into with the backup key); after the transfer is discarded (破棄), the same
 * generation file — same name — holds none of it, its payload rows and chunks are gone, the live
 * transfer's key is still there, and the generation passes `kenshin backup verify` (with the KEK:
 * every payload it holds decrypts) and rebuilds a node with `kenshin cluster rebuild`.
 */
import Database from "better-sqlite3";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { uploadExport } from "../../src/client/transfer-client.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { readBackupFile } from "../../src/service/backup/backup-file.js";
import { useServiceCluster, type ServiceCluster } from "../support/service-cluster.js";
import { EXAMPLE_DIR, expectStatus, firstLogin } from "../support/test-node.js";

const CLI = join(process.cwd(), "dist/cli/main.js");
const ALL = ["node1", "node2", "node3", "backup"];
const cluster = useServiceCluster({ offlineNode: { backupIntervalMs: 1500 } });

function cli(args: string[]): { status: number | null; out: Record<string, unknown>; text: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 180_000 });
  let out: Record<string, unknown> = {};
  try {
    out = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    // Not JSON: the assertions show the text.
  }
  return { status: r.status, out, text: `${r.stdout}\n${r.stderr}`.slice(-3000) };
}

describe("deleted transfers leave the offline node's generations", () => {
  it("a generation taken before the 破棄 no longer holds the wrapped key, and still verifies and rebuilds", async () => {
    const c = cluster();
    const work = await mkdtemp(join(c.dir, "..", "scrub-"));
    const backupDir = c.files.nodeDir("backup");
    // Every generation kept (default 7 at 1.5 s would prune those taken before the deletion within
    // seconds, and the key would leave them without any scrub).
    await c.kill9Node("backup");
    const configPath = join(backupDir, "config.json");
    const config = JSON.parse(readFileSync(configPath, "utf8")) as object;
    writeFileSync(configPath, JSON.stringify({ ...config, backup: { keep: 365 } }));
    c.startNode("backup");
    try {
      await scrubAndCheck(c, work);
    } catch (error) {
      const log = readFileSync(c.nodeProcess("backup")?.logFile ?? "", "utf8").slice(-4000);
      throw new Error(`${String(error)}\n--- offline node log ---\n${log}`, { cause: error });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }, 600_000);
});

async function scrubAndCheck(c: ServiceCluster, work: string): Promise<void> {
  const backupDir = c.files.nodeDir("backup");

  const sender = c.client("sender");
  await firstLogin(sender, c.account("sender").loginId, c.account("sender").password);
  const receivers = (await sender.get("/api/v1/receivers")).json as { receivers: { id: string }[] };
  const body = readFileSync(join(EXAMPLE_DIR, "export.csv"));
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const up = await uploadExport(sender, receivers.receivers[0]?.id ?? "", body);
    expectStatus(up, 201);
    ids.push((up.json as { transfer: { id: string } }).transfer.id);
  }
  const [gone = "", live = ""] = ids;
  expectStatus(await sender.post(`/api/v1/transfers/${live}/send`), 200);
  await c.waitSamePosition(ALL, 120_000);
  const keyOn = (name: string, id: string): Buffer | undefined =>
    (
      c.serviceDb(name, (db) =>
        db.prepare("SELECT wrapped_key FROM transfer_keys WHERE transfer_id = ?").get(id),
      ) as { wrapped_key: Buffer } | undefined
    )?.wrapped_key;
  const goneKey = await waitFor(() => Promise.resolve(keyOn("backup", gone)), {
    what: "the upload's key on the offline node",
    timeoutMs: 60_000,
    intervalMs: 250,
  });
  const liveKey = await waitFor(() => Promise.resolve(keyOn("backup", live)), {
    what: "the live upload's key on the offline node",
    timeoutMs: 60_000,
    intervalMs: 250,
  });
  expect(keyOn("node1", gone)?.equals(goneKey)).toBe(true);

  // Made with the first generation (after the first published checkpoint).
  const backupKey = (): Uint8Array =>
    new Uint8Array(Buffer.from(readFileSync(join(backupDir, "keys", "backup.key"), "utf8").trim(), "base64"));
  const opened = join(work, "opened");
  /** Opens a generation with the backup key: its files holding each key, and the rows it has. */
  const inGeneration = async (
    name: string,
  ): Promise<{ gone: string[]; live: string[]; goneRows: number; liveRows: number }> => {
    await rm(opened, { recursive: true, force: true });
    await mkdir(opened, { recursive: true, mode: 0o700 });
    const manifest = await readBackupFile({
      file: join(backupDir, "backups", name),
      key: backupKey(),
      dir: opened,
    });
    const filesHolding = (k: Buffer): string[] => {
      const b64 = Buffer.from(k.toString("base64"));
      return manifest.files
        .map((f) => f.name)
        .filter((f) => {
          const bytes = readFileSync(join(opened, f));
          return bytes.includes(k) || bytes.includes(b64);
        });
    };
    const db = new Database(join(opened, "service.db"), { readonly: true });
    const rows = (id: string): number =>
      (
        db
          .prepare(
            "SELECT (SELECT count(*) FROM transfer_keys WHERE transfer_id = ?) + (SELECT count(*) FROM payload_chunks WHERE transfer_id = ?) AS n",
          )
          .get(id, id) as { n: number }
      ).n;
    try {
      return {
        gone: filesHolding(goneKey),
        live: filesHolding(liveKey),
        goneRows: rows(gone),
        liveRows: rows(live),
      };
    } finally {
      db.close();
    }
  };
  const generations = async (): Promise<string[]> =>
    (await readdir(join(backupDir, "backups")).catch(() => [] as string[]))
      .filter((n) => n.endsWith(".kxb"))
      .sort();

  // Found before: generations taken while both transfers were live hold both keys.
  const before = await waitFor(
    async () => {
      const held: string[] = [];
      for (const n of await generations()) {
        const g = await inGeneration(n).catch(() => undefined);
        if (g !== undefined && g.gone.length > 0 && g.live.length > 0) held.push(n);
      }
      return held.length >= 2 ? held : undefined;
    },
    { what: "two generations holding both keys", timeoutMs: 120_000, intervalMs: 1000 },
  );
  const first = await inGeneration(before[0] ?? "");
  expect(first.gone).toEqual(["service.db", "chunks.db"]);
  expect(first.goneRows).toBeGreaterThan(0);
  // The node's scrub queue is its own: not in a generation's copy of service.db.
  const copy = new Database(join(opened, "service.db"), { readonly: true });
  try {
    expect(copy.prepare("SELECT name FROM sqlite_master WHERE name = 'backup_scrub_pending'").all()).toEqual(
      [],
    );
  } finally {
    copy.close();
  }

  // 破棄: the payload and data key deleted on every node; then the generations follow.
  expectStatus(await sender.post(`/api/v1/transfers/${gone}/discard`), 200);
  await waitFor(
    () =>
      Promise.resolve(
        (
          c.serviceDb("backup", (db) =>
            db.prepare("SELECT status FROM transfers WHERE id = ?").get(gone),
          ) as {
            status: string;
          }
        ).status === "discarded" || undefined,
      ),
    { what: "the 破棄 applied on the offline node", timeoutMs: 60_000, intervalMs: 250 },
  );
  const scrubbed = async (): Promise<{ name: string; gone: string[]; goneRows: number }[]> => {
    const out = [];
    for (const n of before) {
      if (!existsSync(join(backupDir, "backups", n))) {
        out.push({ name: n, gone: ["(file missing)"], goneRows: -1 });
        continue;
      }
      const g = await inGeneration(n);
      out.push({ name: n, gone: g.gone, goneRows: g.goneRows });
    }
    return out;
  };
  const after = await waitFor(
    async () => {
      const s = await scrubbed();
      return s.every((g) => g.gone.length === 0 && g.goneRows === 0) ? s : undefined;
    },
    { what: "the generations taken before the 破棄 without its key", timeoutMs: 120_000, intervalMs: 1000 },
  ).catch(() => scrubbed());
  expect(after).toEqual(before.map((name) => ({ name, gone: [], goneRows: 0 })));
  // Every generation now, the ones taken after the 破棄 too; the live transfer's key and rows stay.
  for (const n of await generations()) {
    const g = await inGeneration(n);
    expect([n, g.gone, g.goneRows]).toEqual([n, [], 0]);
  }
  for (const n of before) {
    const g = await inGeneration(n);
    expect([n, g.live, g.liveRows > 0]).toEqual([n, ["service.db", "chunks.db"], true]);
  }

  // It still verifies (every envelope chunk, file hashes, quick_check, fsck; every payload decrypts
  // with the KEK) and rebuilds a node (the full check, the payloads against their recorded hashes).
  const scrubbedFile = join(backupDir, "backups", before[0] ?? "");
  const verifyDir = join(work, "verify");
  mkdirSync(join(verifyDir, "keys"), { recursive: true, mode: 0o700 });
  copyFileSync(join(backupDir, "keys", "backup.key"), join(verifyDir, "keys", "backup.key"));
  copyFileSync(join(backupDir, "keys", "ledger.vkey"), join(verifyDir, "keys", "ledger.vkey"));
  copyFileSync(c.files.sharedKek, join(verifyDir, "keys", "kek.key"));
  const verified = cli(["backup", "verify", "--data", verifyDir, scrubbedFile]);
  expect([verified.status, verified.text]).toEqual([0, expect.any(String)]);
  expect(verified.out["payloads"]).toMatchObject({ unreadable: [] });
  expect((verified.out["payloads"] as { checked: number }).checked).toBeGreaterThan(0);
  const rebuilt = cli([
    "cluster",
    "rebuild",
    "--from",
    scrubbedFile,
    "--keys",
    join(verifyDir, "keys"),
    "--kek",
    c.files.sharedKek,
    "--data",
    join(work, "rebuilt"),
  ]);
  expect([rebuilt.status, rebuilt.text]).toEqual([0, expect.any(String)]);
  expect(rebuilt.out).toMatchObject({ ok: true });
  expect(rebuilt.out["payloads"]).toBeGreaterThan(0);
  const rebuiltDb = new Database(join(work, "rebuilt", "service.db"), { readonly: true });
  try {
    expect(
      rebuiltDb.prepare("SELECT count(*) AS n FROM transfer_keys WHERE transfer_id = ?").get(gone),
    ).toEqual({
      n: 0,
    });
  } finally {
    rebuiltDb.close();
  }

  const log = readFileSync(c.nodeProcess("backup")?.logFile ?? "", "utf8");
  expect(log).toContain("backup scrub:");
  expect(log).not.toContain("backup scrub failed");
}
