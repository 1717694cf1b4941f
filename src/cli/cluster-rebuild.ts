/**
 * `kenshin cluster rebuild`: the disaster drill's command (service/cluster/node-rebuild.ts). Puts a node's
 * databases back from a backup generation (the offline node's, or a node's own) into a data directory
 * that holds none, proven first: integrity check, the root at the last published checkpoint, every
 * payload decrypted with the KEK to its recorded SHA-256, deleted transfers without keys. Prints a JSON
 * summary. Exit 0 rebuilt · 1 refused (REBUILD_INVALID / BACKUP_INVALID, `{ ok: false, code, reason }`,
 * nothing written) · 2 unusable flags.
 */
import type { Command } from "commander";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ServiceError } from "../service/errors.js";
import { rebuildNode } from "../service/cluster/node-rebuild.js";
import { EXIT_ISSUES } from "./exit-codes.js";

interface RebuildFlags {
  from: string;
  keys: string;
  kek: string;
  checkpoint?: string;
  data: string;
}

/** The log verifier key in an operator's key backup: a node's `ledger.vkey` or the cluster's `log.vkey`. */
function logKeyIn(keys: string): string {
  const node = join(keys, "ledger.vkey");
  return existsSync(node) ? node : join(keys, "log.vkey");
}

export function registerRebuildCommand(cluster: Command): void {
  cluster
    .command("rebuild")
    .description(
      "災害復旧: バックアップ世代 (オフラインノードのもの等) から新しいデータディレクトリにデータベースを再構築し、台帳・転送・ペイロードを検証する",
    )
    .requiredOption("--from <file>", "バックアップ世代 (.kxb)")
    .requiredOption("--keys <dir>", "運用者の鍵の控え (backup.key と ledger.vkey または log.vkey)")
    .requiredOption("--kek <file>", "運用者の鍵暗号化鍵 (KEK) の控え")
    .option("--checkpoint <file>", "最後に公開されたチェックポイント (署名付きノート)")
    .requiredOption("--data <dir>", "再構築するノードのデータディレクトリ (データベースがないこと)")
    .action(async (o: RebuildFlags) => {
      try {
        const summary = await rebuildNode({
          from: o.from,
          backupKey: join(o.keys, "backup.key"),
          logKey: logKeyIn(o.keys),
          kek: o.kek,
          checkpoint: o.checkpoint,
          data: o.data,
        });
        process.stdout.write(`${JSON.stringify({ ok: true, ...summary }, null, 2)}\n`);
      } catch (error) {
        if (
          !(error instanceof ServiceError) ||
          (error.code !== "REBUILD_INVALID" && error.code !== "BACKUP_INVALID")
        ) {
          throw error;
        }
        const out = { ok: false, code: error.code, ...error.context, message: error.message };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        process.exitCode = EXIT_ISSUES;
      }
    });
}
