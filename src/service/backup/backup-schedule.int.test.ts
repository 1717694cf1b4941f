/**
 * Scheduled backup generations on a real node while it keeps appending: generations appear on the
 * schedule, each verifies (fsck of its ledger snapshot), old ones are pruned to `backup.keep`, and the
 * backup key is not the KEK.
 */
import { readdir, readFile, rm, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { adminRecord, audit } from "../audit/audit.js";
import { backupKeyPath, backupsDir, verifyBackup, type BackupInfo } from "./backup.js";
import { startBackupSchedule } from "./backup-schedule.js";
import { systemActor } from "../context.js";
import { dataPaths } from "../data-dir.js";
import { closeNode, initDataDir, openNode } from "../node.js";

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

describe("backup generations on a schedule", () => {
  it("takes generations while the node appends, prunes to backup.keep, each verifies; the key is not the KEK", async () => {
    const root = await mkdtemp(join(tmpdir(), "kenshin-backup-schedule-"));
    roots.push(root);
    const dir = join(root, "node");
    await initDataDir(dir, { config: { listen: { host: "127.0.0.1", port: 0 }, backup: { keep: 2 } } });
    const ctx = await openNode(dir, { env: {} });
    const taken: BackupInfo[] = [];
    const errors: unknown[] = [];
    const schedule = startBackupSchedule(ctx, {
      intervalMs: 150,
      chunkSize: 1024,
      onBackup: (info) => taken.push(info),
      onError: (e) => errors.push(e),
    });
    let appended = 0;
    try {
      for (let i = 0; taken.length < 4 && i < 400; i++) {
        await audit(ctx, [
          adminRecord(ctx, systemActor("w"), "password.change", { kind: "account", id: "w" }),
        ]);
        appended++;
        await sleep(10);
      }
    } finally {
      await schedule.stop();
    }
    expect(errors).toEqual([]);
    expect(taken.length).toBeGreaterThanOrEqual(4);
    // Generations follow the writes (the service was never stopped for them).
    expect(taken[taken.length - 1]?.ledgerSize).toBeGreaterThan(taken[0]?.ledgerSize ?? 0);
    const left = (await readdir(backupsDir(ctx.paths))).filter((n) => n.endsWith(".kxb"));
    expect(left).toHaveLength(2);
    for (const name of left) {
      const { fsck } = await verifyBackup(dataPaths(dir), join(backupsDir(ctx.paths), name));
      expect(fsck.ok).toBe(true);
    }
    expect(appended).toBeGreaterThan(0);
    const backupKey = (await readFile(backupKeyPath(ctx.paths), "utf8")).trim();
    const kek = await readFile(ctx.paths.kek);
    expect(kek.toString("utf8")).not.toContain(backupKey);
    closeNode(ctx);
  });
});
