/**
 * What an operator (and the office's monitoring) needs to see of the cluster, read from etcd itself:
 * each etcd member (voting or learner, reachable, Raft leader), the current sequencer, the command log's
 * head, and each node's last applied batch and lag behind the head. Read-only; every call bounded.
 */
import { Etcd3 } from "etcd3";
import type { LogKeys, LogPosition } from "./command-log/command-batch.js";

export interface EtcdMemberStatus {
  readonly name: string;
  readonly clientUrl: string | undefined;
  readonly learner: boolean;
  /** Answered a status request in time and knows a Raft leader. */
  readonly healthy: boolean;
  readonly raftLeader: boolean;
}

export interface NodeProgress {
  readonly name: string;
  readonly applied: number;
  readonly lag: number;
}

export interface ClusterStatus {
  readonly etcd: readonly EtcdMemberStatus[];
  /** The node currently elected sequencer, if any. */
  readonly sequencer: string | undefined;
  readonly head: number;
  readonly nodes: readonly NodeProgress[];
}

export async function readClusterStatus(
  client: Etcd3,
  keys: LogKeys,
  o: { timeoutMs?: number } = {},
): Promise<ClusterStatus> {
  const timeoutMs = o.timeoutMs ?? 2000;
  const deadline = (): { deadline: number } => ({ deadline: Date.now() + timeoutMs });
  const list = await client.cluster.memberList({}, deadline());
  const etcd = await Promise.all(
    list.members.map(async (m): Promise<EtcdMemberStatus> => {
      const clientUrl = m.clientURLs[0];
      let healthy = false;
      let raftLeader = false;
      if (clientUrl !== undefined) {
        const probe = new Etcd3({ hosts: clientUrl, dialTimeout: timeoutMs });
        try {
          const status = await probe.maintenance.status(deadline());
          healthy = status.leader !== "0" && status.leader !== "";
          raftLeader = status.leader === m.ID;
        } catch {
          healthy = false;
        } finally {
          probe.close();
        }
      }
      return { name: m.name, clientUrl, learner: m.isLearner, healthy, raftLeader };
    }),
  );
  const sequencer = await client.election(keys.election).leader();
  const headText = await client.get(keys.head).options(deadline()).string();
  const head = headText === null ? 0 : (JSON.parse(headText) as LogPosition).seq;
  const applied = await client.getAll().prefix(keys.applied).options(deadline()).strings();
  const nodes = Object.entries(applied)
    .map(([key, value]) => {
      const seq = Number(value);
      const n = Number.isSafeInteger(seq) ? seq : 0;
      return { name: key.slice(keys.applied.length), applied: n, lag: Math.max(0, head - n) };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  return { etcd, sequencer, head, nodes };
}
