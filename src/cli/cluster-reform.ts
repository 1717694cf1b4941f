/**
 * `kenshin cluster reform --data <dir>`: the disaster drill's second command (service/cluster/cluster-reform.ts).
 * After `kenshin cluster rebuild` put an online node's databases back and the three etcd voters were
 * started fresh (empty data directories), this seeds the new, empty command log from that node's copy
 * (its last batch, head, the last published checkpoint and a genesis record), checked first against the
 * node's pinned log key and cosigner quorum. The other nodes then start with empty databases and catch
 * up from it. Prints a JSON summary. Exit 0 seeded · 1 refused (REBUILD_INVALID / CLUSTER_LOG_NOT_EMPTY,
 * `{ ok: false, code, reason }`, nothing written to etcd).
 */
import type { Command } from "commander";
import { ClusterError } from "../cluster/errors.js";
import { reformCluster } from "../service/cluster/cluster-reform.js";
import { ServiceError } from "../service/errors.js";
import { EXIT_ISSUES } from "./exit-codes.js";

export function registerReformCommand(cluster: Command): void {
  cluster
    .command("reform")
    .description(
      "災害復旧: 再構築したオンラインノードの台帳から、空の etcd に新しいコマンドログを作る (他のノードはそのノードから追いつく)",
    )
    .requiredOption("--data <dir>", "cluster rebuild で再構築したオンラインノードのデータディレクトリ")
    .action(async (o: { data: string }) => {
      try {
        const summary = await reformCluster(o.data);
        process.stdout.write(`${JSON.stringify({ ok: true, ...summary }, null, 2)}\n`);
      } catch (error) {
        const known =
          (error instanceof ServiceError && error.code === "REBUILD_INVALID") ||
          (error instanceof ClusterError && error.code === "CLUSTER_LOG_NOT_EMPTY");
        if (!known) throw error;
        const out = { ok: false, code: error.code, ...error.context, message: error.message };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        process.exitCode = EXIT_ISSUES;
      }
    });
}
