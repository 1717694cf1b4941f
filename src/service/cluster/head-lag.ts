/**
 * How far a cluster node is behind the command log's head, as `cluster-node.ts` uses it: the head's batch
 * number read from etcd (bounded), a request's wait for what was ordered before it arrived
 * (`ClusterHooks.caughtUp`), and the lag sampled for the node's presence, which shows
 * "catching-up" while it is far behind (and the server follows it: `cluster/serving-state.ts`).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ClusterAgent } from "../../cluster/cluster-agent.js";
import type { ClusterLedger } from "../../cluster/cluster-ledger.js";
import { logKeys } from "../../cluster/command-log/command-batch.js";

/** How long a request waits for this node to apply what was ordered before it arrived. */
const CATCH_UP_WAIT_MS = 3000;
const HEAD_READ_MS = 1000;
/** How often the node measures its lag behind the log head for its presence. */
const LAG_SAMPLE_MS = 500;

/** Reads the log head's batch number (0: no log yet); undefined when etcd did not answer in time. */
export function headSeqReader(agent: ClusterAgent, prefix: string): () => Promise<number | undefined> {
  const head = logKeys(prefix).head;
  return async (): Promise<number | undefined> => {
    try {
      const value = await agent.etcd
        .get(head)
        .options({ deadline: Date.now() + HEAD_READ_MS })
        .string();
      return value === null ? 0 : (JSON.parse(value) as { seq: number }).seq;
    } catch {
      return undefined;
    }
  };
}

/**
 * The wait of `ClusterHooks.caughtUp`: with a quorum, until this node applied the head read at the
 * start (bounded by CATCH_UP_WAIT_MS, ended early when the replica stopped for good).
 */
export function caughtUpWaiter(
  agent: ClusterAgent,
  port: ClusterLedger,
  headSeq: () => Promise<number | undefined>,
): () => Promise<void> {
  return async (): Promise<void> => {
    if (!agent.quorum.hasQuorum()) return;
    // etcd did not answer: serve what this node has.
    const seq = await headSeq();
    if (seq === undefined || seq === 0) return;
    const deadline = Date.now() + CATCH_UP_WAIT_MS;
    while (port.status().seq < seq && Date.now() < deadline && !port.stoppedForGood()) {
      await sleep(5);
    }
  };
}

/**
 * Measures how far this node is behind the log head (head batch − applied batch, bounded reads, one at a
 * time) and gives it to the node's presence, which shows "catching-up" while it is far behind (and the
 * server follows it: serving-state.ts). Not known while etcd does not answer (the presence then keeps
 * its last lag rule, and the node serves what it has).
 */
export function startLagSampler(
  agent: ClusterAgent,
  port: ClusterLedger,
  headSeq: () => Promise<number | undefined>,
): { stop(): void } {
  let lag: number | undefined;
  let busy = false;
  let stopped = false;
  const isStopped = (): boolean => stopped;
  const sample = async (): Promise<void> => {
    if (busy || stopped) return;
    busy = true;
    try {
      const seq = await headSeq();
      lag = seq === undefined ? undefined : Math.max(0, seq - port.status().seq);
      if (!isStopped()) await agent.presence.refresh();
    } finally {
      busy = false;
    }
  };
  agent.presenceSources({ lag: () => lag });
  const timer = setInterval(() => void sample(), LAG_SAMPLE_MS);
  timer.unref();
  void sample();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
