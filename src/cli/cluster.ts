/**
 * `kenshin cluster …`: operating the replicated service. For now `status`, which reads the cluster's state
 * from etcd (members, sequencer, command-log head, each node's applied batch and lag). Exit 0 when every
 * etcd member is healthy and a sequencer is elected, 1 when the cluster runs degraded, 2 when etcd cannot
 * be reached or the flags are unusable. (`init` and `join` come with the replicated node, README
 * "Cluster (in progress)".)
 */
import type { Command } from "commander";
import { Etcd3 } from "etcd3";
import { readClusterStatus, type ClusterStatus } from "../cluster/cluster-status.js";
import { logKeys } from "../cluster/command-log/command-batch.js";
import { ClusterError } from "../cluster/errors.js";
import { EXIT_ISSUES } from "./exit-codes.js";

interface StatusFlags {
  etcd: string;
  prefix: string;
  json?: boolean;
  timeoutMs: string;
}

function describeStatus(s: ClusterStatus): string {
  const lines = ["etcd メンバー:"];
  for (const m of s.etcd) {
    const role = m.learner ? "学習者 (投票なし)" : m.raftLeader ? "Raft リーダー" : "投票メンバー";
    lines.push(`  ${m.name || "(未起動)"} ${m.clientUrl ?? "-"} ${role} ${m.healthy ? "正常" : "応答なし"}`);
  }
  lines.push(`シーケンサー: ${s.sequencer ?? "(選出されていません)"}`);
  lines.push(`コマンドログの先頭: ${s.head}`);
  lines.push("ノード (適用済み / 遅れ):");
  for (const n of s.nodes) lines.push(`  ${n.name} ${n.applied} / ${n.lag}`);
  return `${lines.join("\n")}\n`;
}

export function registerClusterCommands(program: Command): void {
  const cluster = program.command("cluster").description("クラスタ (etcd で順序付けた複製サービス) の運用");
  cluster
    .command("status")
    .description("etcd メンバー、シーケンサー、各ノードの適用位置と遅れを表示する")
    .requiredOption("--etcd <urls>", "etcd のクライアント URL (カンマ区切り)")
    .option("--prefix <prefix>", "クラスタのキー接頭辞", "kenshin/")
    .option("--timeout-ms <ms>", "各問い合わせの待ち時間", "2000")
    .option("--json", "JSON で出力する")
    .action(async (o: StatusFlags) => {
      const hosts = o.etcd.split(",").filter((h) => h.length > 0);
      const timeoutMs = Number.parseInt(o.timeoutMs, 10);
      if (hosts.length === 0 || !hosts.every((h) => /^https?:\/\/[^\s/]+$/.test(h))) {
        throw new ClusterError("CLUSTER_OPTION_INVALID", "--etcd は http(s)://host:port のカンマ区切りです");
      }
      if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 60_000) {
        throw new ClusterError("CLUSTER_OPTION_INVALID", "--timeout-ms は 100〜60000 です");
      }
      const client = new Etcd3({ hosts, dialTimeout: timeoutMs });
      let status: ClusterStatus;
      try {
        status = await readClusterStatus(client, logKeys(o.prefix), { timeoutMs });
      } catch (cause) {
        if (cause instanceof ClusterError) throw cause;
        throw new ClusterError("CLUSTER_UNAVAILABLE", "etcd に接続できません", {}, { cause });
      } finally {
        client.close();
      }
      const healthy = status.etcd.every((m) => m.healthy) && status.sequencer !== undefined;
      process.stdout.write(
        o.json === true ? `${JSON.stringify({ ok: healthy, ...status })}\n` : describeStatus(status),
      );
      if (!healthy) process.exitCode = EXIT_ISSUES;
    });
}
