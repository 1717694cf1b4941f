/**
 * Running a node's etcd member from the configuration `kenshin cluster init|join` wrote, and adding a
 * member to a running cluster through etcd's own cluster API (learner for the offline node). Used by
 * `kenshin cluster join`, `kenshin demo --cluster` and the tests; each process is one the caller
 * started and stops by its PID (supervised-process.ts).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { ClusterError } from "./errors.js";
import { etcdClientUrl, etcdPeerUrl, etcdRole, type ClusterTopology } from "./cluster-topology.js";
import { nodeFiles } from "./cluster-init.js";
import { ETCD_BINARY } from "./processes/etcd-cluster.js";
import {
  logTail,
  requireBinary,
  startSupervised,
  type SupervisedProcess,
} from "./processes/supervised-process.js";
import { waitFor } from "./processes/wait.js";

/** Starts `etcd --config-file <node>/etcd/etcd.conf.yml`, its log beside the config. */
export function startEtcdMember(nodeDir: string, o: { binary?: string } = {}): SupervisedProcess {
  const binary = o.binary ?? ETCD_BINARY;
  requireBinary(binary, "etcd-server");
  const files = nodeFiles(nodeDir);
  mkdirSync(files.etcdData, { recursive: true, mode: 0o700 });
  return startSupervised(binary, ["--config-file", files.etcdConfig], {
    logFile: join(nodeDir, "etcd", "etcd.log"),
  });
}

/** Waits (bounded) until the member at `clientUrl` reports a Raft leader. */
export async function waitMemberHealthy(
  clientUrl: string,
  o: { timeoutMs: number; process?: SupervisedProcess },
): Promise<void> {
  const probe = new Etcd3({ hosts: clientUrl, dialTimeout: 1000 });
  try {
    await waitFor(
      async () => {
        if (o.process !== undefined && !o.process.running()) {
          throw new ClusterError("CLUSTER_PROCESS_EXITED", "etcd メンバーが終了しました", {
            log: logTail(o.process.logFile),
          });
        }
        const status = await probe.maintenance.status({ deadline: Date.now() + 1000 });
        return status.leader !== "0" && status.leader !== "" ? true : undefined;
      },
      { what: `etcd ${clientUrl} healthy`, timeoutMs: o.timeoutMs, intervalMs: 200 },
    );
  } finally {
    probe.close();
  }
}

/**
 * Adds `name` as an etcd member (a learner when it is an offline node), unless a member with its peer
 * URL is already there (an add whose answer was lost may have been applied). etcd refuses member changes
 * for a few seconds after start ("unhealthy cluster"), so the add is retried within `timeoutMs`.
 * A watcher (a second offline node: etcd 3.4 allows one learner) is not a member: nothing is added.
 * @returns "added", "present", or "watcher"
 */
export async function addEtcdMember(
  topology: ClusterTopology,
  name: string,
  o: { hosts: readonly string[]; timeoutMs?: number },
): Promise<"added" | "present" | "watcher"> {
  const role = etcdRole(topology, name);
  if (role === "watcher") return "watcher";
  const node = topology.nodes.find((n) => n.name === name);
  if (node === undefined) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "そのノードはクラスタ構成にありません", { node: name });
  }
  const peer = etcdPeerUrl(node);
  const admin = new Etcd3({ hosts: [...o.hosts], dialTimeout: 2000 });
  try {
    let outcome: "added" | "present" = "present";
    await waitFor(
      async () => {
        const { members } = await admin.cluster.memberList({}, { deadline: Date.now() + 2000 });
        if (members.some((m) => m.peerURLs.includes(peer))) return true;
        await admin.cluster.memberAdd({ peerURLs: [peer], isLearner: role === "learner" });
        outcome = "added";
        return true;
      },
      { what: `etcd member ${name} added`, timeoutMs: o.timeoutMs ?? 30_000, intervalMs: 250 },
    );
    return outcome;
  } finally {
    admin.close();
  }
}

/** The client URL of a node's etcd member. */
export function memberClientUrl(topology: ClusterTopology, name: string): string {
  const node = topology.nodes.find((n) => n.name === name);
  if (node === undefined) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "そのノードはクラスタ構成にありません", { node: name });
  }
  return etcdClientUrl(node);
}
