/**
 * `kenshin demo --cluster`: a whole cluster on 127.0.0.1 for a newcomer, from the same material an
 * operator makes with `kenshin cluster init` (free ports instead of fixed ones; a fresh directory), started in the order the
 * README gives: the three etcd voting members, then the offline node's etcd learner (added through
 * etcd's API first), then every node process, then haproxy in front of the online nodes.
 *
 * Every process is started here as a supervised child (supervised-process.ts) and stopped here by its
 * own PID, newest first; nothing else on the machine is touched. If this process dies, the supervisor's
 * exit hook SIGKILLs the children it started.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { clusterFiles, initCluster, type ClusterFiles } from "./cluster-init.js";
import { etcdClientUrl, etcdRole, onlineNodes, type ClusterTopology } from "./cluster-topology.js";
import { ClusterError } from "./errors.js";
import { addEtcdMember, startEtcdMember, waitMemberHealthy } from "./etcd-membership.js";
import { readPresence } from "./node-presence.js";
import { freePorts } from "./processes/free-ports.js";
import { HAPROXY_BINARY, haproxyBackendStatus } from "./processes/haproxy.js";
import {
  logTail,
  requireBinary,
  startSupervised,
  type SupervisedProcess,
} from "./processes/supervised-process.js";
import { waitFor } from "./processes/wait.js";
import { Etcd3 } from "etcd3";

/** How a node process is started (the CLI passes `kenshin serve|cluster agent --data <dir>`). */
export type NodeCommand = (node: { name: string; role: "online" | "offline"; dir: string }) => {
  readonly command: string;
  readonly args: readonly string[];
};

export interface ClusterDemoOptions {
  /** The demo's cluster directory (made when missing; reused when it holds a cluster.json). */
  readonly dir: string;
  readonly nodeCommand: NodeCommand;
  /**
   * Runs once etcd is up, before any node process starts (the CLI issues the first office ID and the
   * demo's accounts here, through node1's port: `kenshin cluster bootstrap`).
   */
  readonly beforeNodes?: (files: ClusterFiles, topology: ClusterTopology) => Promise<void>;
  readonly log?: (line: string) => void;
  readonly startTimeoutMs?: number;
}

export interface StartedProcess {
  readonly what: string;
  readonly process: SupervisedProcess;
}

export interface RunningClusterDemo {
  readonly topology: ClusterTopology;
  readonly dir: string;
  /** Everything started, in start order. */
  readonly processes: readonly StartedProcess[];
  /** Stops what was started, newest first (SIGTERM, then SIGKILL after a grace period). */
  stop(): Promise<void>;
}

export async function startClusterDemo(o: ClusterDemoOptions): Promise<RunningClusterDemo> {
  const log = o.log ?? (() => undefined);
  const timeoutMs = o.startTimeoutMs ?? 60_000;
  requireBinary(HAPROXY_BINARY, "haproxy");
  const files = clusterFiles(o.dir);
  if (existsSync(files.topology)) {
    throw new ClusterError(
      "CLUSTER_OPTION_INVALID",
      `デモのディレクトリは既に使われています (--fresh で作り直せます): ${o.dir}`,
      {},
    );
  }
  // Five ports per node: https, peer, etcd client, etcd peer, last resort (an offline node uses four).
  const ports = await freePorts(1 + 5 * 4);
  const topology = await initCluster({
    dir: o.dir,
    online: 3,
    offline: 1,
    ports: { frontend: ports[0] ?? 0, nodes: [0, 1, 2, 3].map((i) => ports.slice(1 + 5 * i, 6 + 5 * i)) },
  });
  log(`クラスタ構成を作成しました / cluster material made: ${files.topology}`);
  const started: StartedProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const s of [...started].reverse()) await s.process.stop(3000);
  };
  const track = (what: string, p: SupervisedProcess): SupervisedProcess => {
    started.push({ what, process: p });
    return p;
  };
  try {
    const voters = onlineNodes(topology);
    for (const n of voters) track(`etcd ${n.name}`, startEtcdMember(files.nodeDir(n.name)));
    await Promise.all(voters.map((n) => waitMemberHealthy(etcdClientUrl(n), { timeoutMs })));
    log("etcd: 投票メンバー 3 台が起動しました / 3 voting members up");
    const hosts = voters.map(etcdClientUrl);
    for (const n of topology.nodes.filter((x) => etcdRole(topology, x.name) === "learner")) {
      await addEtcdMember(topology, n.name, { hosts, timeoutMs });
      const p = track(`etcd ${n.name} (learner)`, startEtcdMember(files.nodeDir(n.name)));
      await waitMemberHealthy(etcdClientUrl(n), { timeoutMs, process: p });
      log(`etcd: オフラインノード ${n.name} を学習者として追加しました / learner added`);
    }
    await o.beforeNodes?.(files, topology);
    for (const n of topology.nodes) {
      track(`node ${n.name}`, startNodeProcess(files, n, o.nodeCommand));
    }
    await waitNodesPresent(topology, hosts, started, timeoutMs);
    log("ノード: 4 台すべてが etcd に在席を示しています / all 4 nodes present");
    track(
      "haproxy",
      startSupervised(HAPROXY_BINARY, ["-db", "-f", files.haproxyConfig], {
        logFile: join(o.dir, "haproxy", "haproxy.log"),
      }),
    );
    let seen: Record<string, string> = {};
    await waitFor(
      async () => {
        seen = await haproxyBackendStatus(files.haproxySocket).catch(() => ({}));
        return onlineNodes(topology).every((n) => seen[n.name] === "UP") ? true : undefined;
      },
      { what: "haproxy: every online node UP", timeoutMs, intervalMs: 250 },
    ).catch((error: unknown) => {
      // What each node that stayed DOWN was doing (a timeout alone names no process, and the demo's
      // directory is usually removed by the caller): its log tail, with the status haproxy last saw.
      const notUp = started.filter((s) => {
        const name = /^node (\S+)$/.exec(s.what)?.[1];
        return (
          name !== undefined && onlineNodes(topology).some((n) => n.name === name) && seen[name] !== "UP"
        );
      });
      throw new ClusterError(
        "CLUSTER_WAIT_TIMEOUT",
        `haproxy がオンラインノードを UP と見ませんでした / not every online node UP: ${JSON.stringify(seen)}`,
        {
          what: "haproxy: every online node UP",
          status: seen,
          log: notUp.map((s) => `--- ${s.what}\n${logTail(s.process.logFile)}`).join("\n"),
        },
        { cause: error },
      );
    });
    log(
      `haproxy: https://${topology.frontend.host}:${topology.frontend.port}/ (TLS パススルー / pass-through, オンラインノード 3 台とも UP)`,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { topology, dir: o.dir, processes: started, stop };
}

/** Starts one node's process (its log in the node's directory): at start, and again after a kill. */
export function startNodeProcess(
  files: ClusterFiles,
  n: { readonly name: string; readonly role: "online" | "offline" },
  nodeCommand: NodeCommand,
): SupervisedProcess {
  const dir = files.nodeDir(n.name);
  const c = nodeCommand({ name: n.name, role: n.role, dir });
  return startSupervised(c.command, c.args, { logFile: join(dir, "node.log") });
}

async function waitNodesPresent(
  topology: ClusterTopology,
  hosts: string[],
  started: readonly StartedProcess[],
  timeoutMs: number,
): Promise<void> {
  const client = new Etcd3({ hosts, dialTimeout: 2000 });
  try {
    await waitFor(
      async () => {
        for (const s of started) {
          if (!s.process.running()) {
            throw new ClusterError("CLUSTER_PROCESS_EXITED", `${s.what} が終了しました`, {
              log: logTail(s.process.logFile),
            });
          }
        }
        const presence = await readPresence(client, topology.prefix);
        return topology.nodes.every((n) => presence[n.name] !== undefined) ? true : undefined;
      },
      { what: "every node present", timeoutMs, intervalMs: 250 },
    );
  } finally {
    client.close();
  }
}
