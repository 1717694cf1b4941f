/**
 * `kenshin demo --cluster`: starts the demo cluster (cluster/cluster-demo.ts), prints where everything
 * is, and on Ctrl-C (SIGINT) or SIGTERM stops exactly the processes it started, by their PIDs.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { clusterFiles } from "../cluster/cluster-init.js";
import { startClusterDemo, type NodeCommand } from "../cluster/cluster-demo.js";
import { bootstrapCluster, type ClusterBootstrap } from "../service/cluster/cluster-bootstrap.js";

const EXAMPLE_MAPPING = new URL("../../examples/wide-cp932/mapping.yaml", import.meta.url);

/**
 * Each node runs this same CLI: an online node `kenshin serve` (haproxy checks it and sends users to
 * it), the offline node `kenshin cluster agent` (no user-facing listener).
 */
export const demoNodeCommand: NodeCommand = (node) => ({
  command: process.execPath,
  args: [
    process.argv[1] ?? "",
    ...(node.role === "online" ? ["serve"] : ["cluster", "agent"]),
    "--data",
    node.dir,
  ],
});

export async function runClusterDemo(dir: string): Promise<void> {
  const say = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  let accounts: ClusterBootstrap | undefined;
  const demo = await startClusterDemo({
    dir,
    nodeCommand: demoNodeCommand,
    log: say,
    // The office and the demo's institutions and accounts, as commands through node1 before it serves.
    beforeNodes: async (files, topology) => {
      const first = topology.nodes.find((n) => n.role === "online");
      if (first === undefined) return;
      accounts = await bootstrapCluster(files.nodeDir(first.name), {
        exampleMapping: fileURLToPath(EXAMPLE_MAPPING),
      });
      await writeFile(join(dir, "demo.json"), `${JSON.stringify(accounts, null, 2)}\n`, { mode: 0o600 });
      say("事務局・デモの健診機関・保険者の ID を全ノードに複製しました / demo accounts replicated");
    },
  });
  const files = clusterFiles(dir);
  say("");
  say("=== kenshin-exchange クラスタのデモ / cluster demo ===");
  say(`入口 / frontend (haproxy): https://${demo.topology.frontend.host}:${demo.topology.frontend.port}/`);
  say(`CA 証明書 / CA certificate: ${files.caCert}`);
  say(`状態 / status: kenshin cluster status --cluster ${dir}`);
  for (const a of accounts?.accounts ?? []) {
    say(`  [${a.role}] ${a.institution}: ID ${a.loginId}  仮パスワード/temporary password ${a.password}`);
    say(`      ${a.pkcs12}  (PKCS#12 パスワード/password: ${a.pkcs12Password})`);
  }
  say(`ID の一覧 / accounts: ${join(dir, "demo.json")}`);
  for (const p of demo.processes) say(`  pid ${p.process.pid}  ${p.what}`);
  say("Ctrl-C で、このデモが起動したものだけを停止します / Ctrl-C stops exactly what this demo started.");
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      process.stderr.write("停止しています… / stopping…\n");
      demo.stop().then(resolve, resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  say("停止しました / stopped.");
}
