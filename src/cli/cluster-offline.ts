/**
 * `kenshin cluster offline --data <dir>`: runs the offline backup node (cluster/offline-node.ts) until
 * SIGINT/SIGTERM. It follows and verifies the cluster, cosigns, keeps encrypted backup generations and
 * serves peers only — it has no user-facing listener (README "Cluster → the offline backup node").
 */
import type { Command } from "commander";
import { ClusterError } from "../cluster/errors.js";
import { startOfflineNode } from "../cluster/offline-node.js";

function msFlag(text: string, name: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 100 || n > 7 * 24 * 3_600_000) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", `${name} は 100〜604800000 (ミリ秒) です`, {
      flag: name,
    });
  }
  return n;
}

export function registerOfflineNodeCommand(cluster: Command): void {
  cluster
    .command("offline")
    .description(
      "オフライン (バックアップ) ノードを動かす: 追従・検証・連署・暗号化バックアップ世代 (利用者向けの待ち受けなし)",
    )
    .requiredOption("--data <dir>", "オフラインノードのデータディレクトリ (cluster-node.json があるもの)")
    .option("--check-interval-ms <ms>", "整合性の全体点検の間隔", "300000")
    .option("--backup-interval-ms <ms>", "バックアップ世代を取る間隔", "3600000")
    .action(async (o: { data: string; checkIntervalMs: string; backupIntervalMs: string }) => {
      const node = await startOfflineNode(o.data, {
        checkIntervalMs: msFlag(o.checkIntervalMs, "--check-interval-ms"),
        backupIntervalMs: msFlag(o.backupIntervalMs, "--backup-interval-ms"),
        log: (line) => process.stderr.write(`${line}\n`),
      });
      process.stderr.write(
        `kenshin cluster offline: ${node.config.self} ノード間 ${node.peerServer.url} (利用者向けの待ち受けなし)\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          node.stop().then(resolve, resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}
