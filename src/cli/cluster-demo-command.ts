/**
 * `kenshin demo --cluster`: starts the demo cluster (cluster/cluster-demo.ts), prints where everything
 * is, and on Ctrl-C (SIGINT) or SIGTERM stops exactly the processes it started, by their PIDs.
 */
import { clusterFiles } from "../cluster/cluster-init.js";
import { startClusterDemo, type NodeCommand } from "../cluster/cluster-demo.js";

/** Each node runs this same CLI: the offline node only its cluster agent. */
const nodeCommand: NodeCommand = (node) => ({
  command: process.execPath,
  args: [process.argv[1] ?? "", "cluster", "agent", "--data", node.dir],
});

export async function runClusterDemo(dir: string): Promise<void> {
  const say = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const demo = await startClusterDemo({ dir, nodeCommand, log: say });
  const files = clusterFiles(dir);
  say("");
  say("=== kenshin-exchange クラスタのデモ / cluster demo ===");
  say(`入口 / frontend (haproxy): https://${demo.topology.frontend.host}:${demo.topology.frontend.port}/`);
  say(`CA 証明書 / CA certificate: ${files.caCert}`);
  say(`状態 / status: kenshin cluster status --cluster ${dir}`);
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
