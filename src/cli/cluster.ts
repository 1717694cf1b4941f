/**
 * `kenshin cluster …`: operating the replicated service (README "Cluster").
 *
 * - `init`   makes the cluster directory: topology, service CA, node identities, shared keys for the
 *            online nodes, etcd member configs, pinned cosigners, haproxy config (cluster/cluster-init.ts)
 * - `join`   adds a node (online, or an offline backup) to the directory and, with `--etcd`, adds its
 *            etcd member through etcd's API (a learner for the offline node)
 * - `bootstrap` issues the first office ID (and with `--demo` the demo's accounts) as state commands
 *            through one online node, so every node has the same accounts (service/cluster/cluster-bootstrap.ts)
 * - `agent`  runs a node without any user-facing listener (it applies the command log to its own files,
 *            serves its peer endpoint, keeps payload copies, shows presence): what the offline node runs
 * - `status` each etcd member, the sequencer, the log head, and per node: role, state, applied, lag and
 *            the last checkpoint it cosigned. Exit 0 when every etcd member is healthy, a sequencer is
 *            elected and no node is down; 1 when the cluster runs degraded; 2 when etcd cannot be
 *            reached or the flags are unusable.
 */
import type { Command } from "commander";
import { Etcd3 } from "etcd3";
import { clusterFiles, initCluster, joinCluster } from "../cluster/cluster-init.js";
import {
  etcdClientUrl,
  onlineNodes,
  readTopology,
  type ClusterTopology,
} from "../cluster/cluster-topology.js";
import { ClusterError } from "../cluster/errors.js";
import { readNodeClusterConfig } from "../cluster/cluster-agent.js";
import { bootstrapCluster } from "../service/cluster/cluster-bootstrap.js";
import { openNode, stopNode } from "../service/node.js";
import { addEtcdMember } from "../cluster/etcd-membership.js";
import { readClusterOverview, type ClusterOverview } from "../cluster/node-overview.js";
import { freePorts } from "../cluster/processes/free-ports.js";
import { registerOfflineNodeCommand } from "./cluster-offline.js";
import { registerRebuildCommand } from "./cluster-rebuild.js";
import { registerReformCommand } from "./cluster-reform.js";
import { EXIT_ISSUES } from "./exit-codes.js";
import { fileURLToPath } from "node:url";

const EXAMPLE_MAPPING = new URL("../../examples/wide-cp932/mapping.yaml", import.meta.url);

interface StatusFlags {
  etcd?: string;
  cluster?: string;
  prefix?: string;
  json?: boolean;
  timeoutMs: string;
}

const STATE_LABEL: Record<string, string> = {
  serving: "稼働中",
  "read-only": "読み取り専用 (過半数なし)",
  "catching-up": "追いつき中",
  quarantined: "隔離中",
  down: "停止",
};

const INTEGRITY_LABEL: Record<string, string> = {
  healthy: "正常",
  quarantined: "隔離中",
  repairing: "修復中",
  "catching-up": "追いつき中",
};

function describeStatus(s: ClusterOverview): string {
  const lines = ["etcd メンバー:"];
  for (const m of s.etcd) {
    const role = m.learner ? "学習者 (投票なし)" : m.raftLeader ? "Raft リーダー" : "投票メンバー";
    lines.push(`  ${m.name || "(未起動)"} ${m.clientUrl ?? "-"} ${role} ${m.healthy ? "正常" : "応答なし"}`);
  }
  lines.push(`シーケンサー: ${s.sequencer ?? "(選出されていません)"}`);
  lines.push(`コマンドログの先頭: ${s.head}`);
  lines.push(`公開チェックポイント (過半数が連署): ${s.publishedSize}`);
  lines.push("ノード (役割 / 状態 / 適用済み / 遅れ / 最後に連署したサイズ / 点検 / 修復数):");
  for (const n of s.overview) {
    const role = n.role === "online" ? "オンライン" : n.role === "offline" ? "オフライン" : "不明";
    const check =
      n.integrity === undefined
        ? "未報告"
        : `${INTEGRITY_LABEL[n.integrity.state] ?? n.integrity.state}${n.integrity.lastFullCheck?.ok === false ? " (最後の全体点検で異常)" : ""}`;
    lines.push(
      `  ${n.name} ${role} ${STATE_LABEL[n.state] ?? n.state} ${n.applied} / ${n.lag} / ${n.lastCosignedSize} / ${check} / ${n.integrity?.repairs.length ?? 0}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function etcdHosts(text: string): string[] {
  const hosts = text.split(",").filter((h) => h.length > 0);
  if (hosts.length === 0 || !hosts.every((h) => /^https?:\/\/[^\s/]+$/.test(h))) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "--etcd は http(s)://host:port のカンマ区切りです");
  }
  return hosts;
}

function intFlag(text: string, name: string, min: number, max: number): number {
  const n = Number.parseInt(text, 10);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", `${name} は ${min}〜${max} です`, { flag: name });
  }
  return n;
}

function describeInit(dir: string, t: ClusterTopology): string {
  const files = clusterFiles(dir);
  const lines = [
    `クラスタ構成を作成しました: ${files.topology}`,
    "",
    "ノード (https / peer / etcd client / etcd peer / last resort):",
  ];
  for (const n of t.nodes) {
    lines.push(
      `  ${n.name} (${n.role === "online" ? "オンライン" : "オフライン"}) ${n.host} ${n.ports.https ?? "-"} / ${n.ports.peer} / ${n.ports.etcdClient} / ${n.ports.etcdPeer} / ${n.ports.lastResort ?? "-"}  → ${files.nodeDir(n.name)}`,
    );
  }
  lines.push(
    `利用者の接続先 (haproxy): ${t.frontend.host}:${t.frontend.port}`,
    "",
    "起動順:",
    "  1. 各オンラインノードで etcd --config-file <node>/etcd/etcd.conf.yml",
    `  2. kenshin cluster join --cluster ${dir} --name <offline node> --etcd <voters> (学習者として追加)、その後そのノードの etcd`,
    "  3. 各ノードで kenshin serve --data <node dir>",
    `  4. haproxy -f ${files.haproxyConfig}`,
  );
  return `${lines.join("\n")}\n`;
}

export function registerClusterCommands(program: Command): void {
  const cluster = program.command("cluster").description("クラスタ (etcd で順序付けた複製サービス) の運用");
  registerOfflineNodeCommand(cluster);
  registerRebuildCommand(cluster);
  registerReformCommand(cluster);

  cluster
    .command("init")
    .description("クラスタ構成 (CA・ノード証明書・鍵・etcd 設定・haproxy 設定) を作る")
    .requiredOption("--dir <dir>", "作成するクラスタ構成のディレクトリ")
    .option("--online <n>", "オンラインノードの数", "3")
    .option("--offline <n>", "オフライン (バックアップ) ノードの数", "1")
    .option("--host <host>", "ノードと入口のホスト", "127.0.0.1")
    .option("--base-port <port>", "入口のポート (ノード i は base + 10·i + 0〜3)", "24000")
    .option("--prefix <prefix>", "etcd のキー接頭辞", "kenshin/")
    .action(
      async (o: {
        dir: string;
        online: string;
        offline: string;
        host: string;
        basePort: string;
        prefix: string;
      }) => {
        const topology = await initCluster({
          dir: o.dir,
          online: intFlag(o.online, "--online", 1, 7),
          offline: intFlag(o.offline, "--offline", 0, 3),
          host: o.host,
          basePort: intFlag(o.basePort, "--base-port", 1024, 65_000),
          prefix: o.prefix,
        });
        process.stdout.write(describeInit(o.dir, topology));
      },
    );

  cluster
    .command("join")
    .description("ノードを追加する (新しいノードの材料を作り、--etcd があれば etcd メンバーとして追加)")
    .requiredOption("--cluster <dir>", "クラスタ構成のディレクトリ")
    .requiredOption("--name <name>", "ノード名 (既にあれば etcd への追加だけ行う)")
    .option("--offline", "オフライン (バックアップ) ノードとして追加する")
    .option("--host <host>", "ノードのホスト")
    .option(
      "--ports <https,peer,etcdClient,etcdPeer[,lastResort]>",
      "ポート (省略時は空いているポート。lastResort は停止中にも 503 を返す予備の入口)",
    )
    .option("--etcd <urls>", "動いている etcd の投票メンバー (カンマ区切り)")
    .action(
      async (o: {
        cluster: string;
        name: string;
        offline?: boolean;
        host?: string;
        ports?: string;
        etcd?: string;
      }) => {
        const files = clusterFiles(o.cluster);
        let topology = readTopology(files.topology);
        if (!topology.nodes.some((n) => n.name === o.name)) {
          const ports =
            o.ports === undefined
              ? await freePorts(5)
              : o.ports.split(",").map((p) => intFlag(p, "--ports", 1, 65_535));
          if (ports.length !== 4 && ports.length !== 5) {
            throw new ClusterError("CLUSTER_OPTION_INVALID", "--ports は 4 つか 5 つのポートです", {});
          }
          topology = await joinCluster({
            dir: o.cluster,
            name: o.name,
            role: o.offline === true ? "offline" : "online",
            ...(o.host === undefined ? {} : { host: o.host }),
            ports,
          });
          process.stdout.write(`ノード ${o.name} の材料を作りました: ${files.nodeDir(o.name)}\n`);
        }
        if (o.etcd !== undefined) {
          const outcome = await addEtcdMember(topology, o.name, { hosts: etcdHosts(o.etcd) });
          const said = {
            added: "etcd メンバーとして追加しました。そのノードの etcd を起動してください",
            present: "etcd メンバーとして既に登録されています",
            watcher:
              "etcd 3.4 の学習者は 1 つまでのため、このノードは etcd を監視するだけです (メンバーにはしません)",
          }[outcome];
          process.stdout.write(`${said}\n`);
        }
      },
    );

  cluster
    .command("status")
    .description(
      "etcd メンバー、シーケンサー、各ノードの状態・適用位置・遅れ・最後に連署したサイズを表示する",
    )
    .option("--etcd <urls>", "etcd のクライアント URL (カンマ区切り)")
    .option("--cluster <dir>", "クラスタ構成のディレクトリ (etcd の URL と接頭辞をそこから読む)")
    .option("--prefix <prefix>", "クラスタのキー接頭辞 (既定 kenshin/)")
    .option("--timeout-ms <ms>", "各問い合わせの待ち時間", "2000")
    .option("--json", "JSON で出力する")
    .action(async (o: StatusFlags) => {
      const topology = o.cluster === undefined ? undefined : readTopology(clusterFiles(o.cluster).topology);
      if (o.etcd === undefined && topology === undefined) {
        throw new ClusterError("CLUSTER_OPTION_INVALID", "--etcd か --cluster を指定してください");
      }
      const hosts =
        o.etcd !== undefined
          ? etcdHosts(o.etcd)
          : onlineNodes(topology as ClusterTopology).map(etcdClientUrl);
      const prefix = o.prefix ?? topology?.prefix ?? "kenshin/";
      const timeoutMs = intFlag(o.timeoutMs, "--timeout-ms", 100, 60_000);
      const client = new Etcd3({ hosts, dialTimeout: timeoutMs });
      let status: ClusterOverview;
      try {
        status = await readClusterOverview(client, prefix, {
          timeoutMs,
          ...(topology === undefined ? {} : { topology }),
        });
      } catch (cause) {
        if (cause instanceof ClusterError) throw cause;
        throw new ClusterError("CLUSTER_UNAVAILABLE", "etcd に接続できません", {}, { cause });
      } finally {
        client.close();
      }
      const healthy =
        status.etcd.every((m) => m.healthy) &&
        status.sequencer !== undefined &&
        (topology === undefined || status.overview.every((n) => n.state !== "down"));
      process.stdout.write(
        o.json === true ? `${JSON.stringify({ ok: healthy, ...status })}\n` : describeStatus(status),
      );
      if (!healthy) process.exitCode = EXIT_ISSUES;
    });

  cluster
    .command("bootstrap")
    .description("新しいクラスタの最初の事務局ID を発行する (状態変更として全ノードに複製)")
    .requiredOption(
      "--data <dir>",
      "オンラインノードのデータディレクトリ (そのノードの serve はまだ起動しない)",
    )
    .option("--office-name <name>", "事務局の名前")
    .option("--demo", "デモの健診機関・保険者と利用者ID も作る")
    .option("--json", "発行した ID を JSON で出力する")
    .action(async (o: { data: string; officeName?: string; demo?: boolean; json?: boolean }) => {
      const result = await bootstrapCluster(o.data, {
        ...(o.officeName !== undefined ? { officeName: o.officeName } : {}),
        ...(o.demo === true ? { exampleMapping: fileURLToPath(EXAMPLE_MAPPING) } : {}),
      });
      if (o.json === true) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
        return;
      }
      const lines = [`CA 証明書: ${result.caCertificate}`, `台帳の検証鍵: ${result.verifierKey}`];
      for (const a of result.accounts) {
        lines.push(`[${a.role}] ${a.institution}: 利用者ID ${a.loginId}  仮パスワード ${a.password}`);
        lines.push(`    PKCS#12: ${a.pkcs12} (パスワード ${a.pkcs12Password})`);
      }
      process.stdout.write(`${lines.join("\n")}\n`);
    });

  cluster
    .command("agent")
    .description(
      "利用者向けの待ち受けなしでノードを動かす (コマンドログの適用・ノード間エンドポイント・ペイロード複製・在席; オフラインノード用)",
    )
    .requiredOption("--data <dir>", "ノードのデータディレクトリ (cluster-node.json があるもの)")
    .action(async (o: { data: string }) => {
      const config = readNodeClusterConfig(o.data);
      if (config === undefined) {
        throw new ClusterError(
          "CLUSTER_OPTION_INVALID",
          `クラスタのノードではありません (cluster-node.json がありません): ${o.data}`,
        );
      }
      const ctx = await openNode(o.data);
      process.stderr.write(`kenshin cluster agent: ${config.self} (${config.role})\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          stopNode(ctx).then(resolve, resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
      });
    });
}
