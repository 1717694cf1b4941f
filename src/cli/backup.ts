/**
 * `kenshin backup create|verify|restore`: online encrypted backups of a node. Thin: each sub-command
 * calls one function of `service/backup/backup.ts` and prints JSON. Exit 0 success · 1 the backup failed
 * verification (BACKUP_INVALID, printed as `{ ok: false, code, reason }`) · 2 anything unusable
 * (missing keys, a running server on restore, bad flags).
 */
import type { Command } from "commander";
import { userInfo } from "node:os";
import { createBackup, restoreBackup, verifyBackup } from "../service/backup/backup.js";
import type { Actor } from "../service/context.js";
import { dataPaths } from "../service/data-dir.js";
import { ServiceError } from "../service/errors.js";
import { closeNode, openNode } from "../service/node.js";
import { EXIT_ISSUES } from "./exit-codes.js";

const out = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

/** The console user on the node, as the ledger records who took or restored a backup. */
function consoleActor(): Actor {
  return { loginId: `console:${userInfo().username}`.slice(0, 64), institutionId: "-", role: "system" };
}

/** Runs a command; a failed verification becomes JSON on stdout and exit 1, other errors propagate (exit 2). */
async function reportingInvalid(run: () => Promise<object>): Promise<void> {
  try {
    out({ ok: true, ...(await run()) });
  } catch (error) {
    if (!(error instanceof ServiceError) || error.code !== "BACKUP_INVALID") throw error;
    out({ ok: false, code: error.code, ...error.context, message: error.message });
    process.exitCode = EXIT_ISSUES;
  }
}

/** Registers the `backup` command group. */
export function registerBackupCommands(program: Command): void {
  const backup = program
    .command("backup")
    .description("データベースの暗号化バックアップ (サービスを止めずに取得、世代管理)");

  backup
    .command("create")
    .description("バックアップを取り、台帳に記録し、古い世代を削除する")
    .requiredOption("--data <dir>", "データディレクトリ")
    .action(async (o: { data: string }) => {
      const ctx = await openNode(o.data);
      try {
        out({ ok: true, ...(await createBackup(ctx, consoleActor())) });
      } finally {
        closeNode(ctx);
      }
    });

  backup
    .command("verify")
    .description("バックアップを復号し、ハッシュと台帳 (fsck) を検証する")
    .requiredOption("--data <dir>", "データディレクトリ (keys/backup.key と keys/ledger.vkey を使う)")
    .argument("<file>", "バックアップファイル (.kxb)")
    .action(async (file: string, o: { data: string }) => {
      await reportingInvalid(async () => {
        const { manifest, fsck, payloads } = await verifyBackup(dataPaths(o.data), file);
        // The databases and the ledger verified; payloads wrapped under a KEK this node no longer has
        // (after `kenshin keys rotate`) cannot be restored: named, and the exit code says so.
        if (payloads.unreadable.length > 0) process.exitCode = EXIT_ISSUES;
        return {
          ...(payloads.unreadable.length > 0 ? { ok: false, code: "BACKUP_PAYLOADS_UNREADABLE" } : {}),
          manifest,
          fsck,
          payloads,
        };
      });
    });

  backup
    .command("restore")
    .description("停止中のノードにバックアップを復元し、台帳を検証する")
    .requiredOption("--data <dir>", "データディレクトリ")
    .argument("<file>", "バックアップファイル (.kxb)")
    .action(async (file: string, o: { data: string }) => {
      await reportingInvalid(() => restoreBackup(o.data, file, { actor: consoleActor() }));
    });
}
