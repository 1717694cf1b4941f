/**
 * Opening a cluster node's ledger port and cluster side, for `service/node.ts` (which chooses this port
 * when the data directory holds a `cluster-node.json`, written by `kenshin cluster init|join`):
 *
 * - the node's agent (`cluster/cluster-agent.ts`): etcd client, chunk store, mutual-TLS peer endpoint,
 *   payload replication, quorum probe, pending queue of read-only mode, presence;
 * - the replicated write port on etcd (`cluster/node-ledger-port.ts` → ClusterLedger) built with the
 *   service's one applier registry (`state-commands/registry.ts`), whose payload dependency stores a
 *   replicated upload from this node's chunk store (`cluster/replicated-payloads.ts`); its peer route
 *   (catch-up past compaction) mounted on the agent's peer endpoint;
 * - on an online node the port wrapped by the quorum guard (`cluster/quorum-guard.ts`): without a
 *   majority, state changes get the coded 503 and the entries of reads are kept and appended later;
 * - the fetcher of payloads this node missed, the release of deleted payloads' chunks from chunks.db
 *   (`cluster/payload-chunk-release.ts`), and the {@link ClusterHooks} the service and server use.
 *
 * The offline node opens the same way without the guard (it never appends) and serves no users.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { startClusterAgent, type ClusterAgent } from "../cluster/cluster-agent.js";
import type { ClusterLedger } from "../cluster/cluster-ledger.js";
import type { NodeClusterConfig } from "../cluster/cluster-topology.js";
import { logKeys } from "../cluster/command-log/command-batch.js";
import { ClusterError } from "../cluster/errors.js";
import { openNodeLedgerPort } from "../cluster/node-ledger-port.js";
import {
  notePayloadReleased,
  preparePayloadRefs,
  startPayloadRelease,
} from "../cluster/payload-chunk-release.js";
import { guardWritePort } from "../cluster/quorum-guard.js";
import {
  prepareWantedPayloads,
  replicatedPayloadCommitter,
  startPayloadFetcher,
} from "../cluster/replicated-payloads.js";
import type { LedgerPort } from "../ledger/embedded-ledger.js";
import type { CheckpointPublished } from "../ledger/write-port.js";
import type { ServiceDb } from "../store/service-db.js";
import type { ClusterHooks } from "./cluster-hooks.js";
import { commandApplier } from "./state-commands/registry.js";

export interface OpenedClusterNode {
  readonly ledger: LedgerPort;
  readonly hooks: ClusterHooks;
  readonly agent: ClusterAgent;
  /** The replicated port itself (status, failure), unwrapped. */
  readonly port: ClusterLedger;
}

/** How long a request waits for this node to apply what was ordered before it arrived. */
const CATCH_UP_WAIT_MS = 3000;
const HEAD_READ_MS = 1000;

/**
 * Starts the cluster side of the node in `dir` on its own `db`.
 * @throws ClusterError CLUSTER_OPTION_INVALID (material missing or wrong)
 */
export async function openClusterNode(o: {
  readonly dir: string;
  readonly config: NodeClusterConfig;
  readonly db: ServiceDb;
  readonly onCheckpoint?: CheckpointPublished;
  readonly onError?: (error: unknown) => void;
}): Promise<OpenedClusterNode> {
  prepareWantedPayloads(o.db);
  preparePayloadRefs(o.db);
  const agent = await startClusterAgent(o.dir);
  if (agent === undefined) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "クラスタのノードではありません", {});
  }
  let port: ClusterLedger;
  try {
    port = openNodeLedgerPort({
      dir: o.dir,
      config: o.config,
      etcd: agent.etcd,
      db: o.db,
      applyCommand: commandApplier({
        commitPayload: replicatedPayloadCommitter(agent.chunks),
        releasePayload: notePayloadReleased,
      }),
      tls: agent.tls,
      ...(o.onCheckpoint !== undefined ? { onCheckpoint: o.onCheckpoint } : {}),
      ...(o.onError !== undefined ? { onError: o.onError } : {}),
    });
  } catch (error) {
    await agent.stop();
    throw error;
  }
  agent.mount(port.peerRoute());
  const online = o.config.role === "online";
  const ledger: LedgerPort = online
    ? guardWritePort(port, {
        probe: agent.quorum,
        queue: agent.pending,
        newId: () => randomBytes(16).toString("hex"),
        ...(o.onError !== undefined ? { onDrainError: o.onError } : {}),
      })
    : port;
  const fetcher = startPayloadFetcher({
    db: o.db,
    chunks: agent.chunks,
    replication: agent.payloads,
    ...(o.onError !== undefined ? { onError: o.onError } : {}),
  });
  // After the apply: a deleted or discarded payload's manifest and chunks leave chunks.db too.
  const release = startPayloadRelease({
    db: o.db,
    chunks: agent.chunks,
    ...(o.onError !== undefined ? { onError: o.onError } : {}),
  });
  const head = logKeys(o.config.prefix).head;

  const caughtUp = async (): Promise<void> => {
    if (!agent.quorum.hasQuorum()) return;
    let seq: number;
    try {
      const value = await agent.etcd
        .get(head)
        .options({ deadline: Date.now() + HEAD_READ_MS })
        .string();
      if (value === null) return;
      seq = (JSON.parse(value) as { seq: number }).seq;
    } catch {
      // etcd did not answer: serve what this node has.
      return;
    }
    const deadline = Date.now() + CATCH_UP_WAIT_MS;
    while (port.status().seq < seq && Date.now() < deadline && port.failure() === undefined) {
      await sleep(5);
    }
  };

  const hooks: ClusterHooks = {
    replicatePayload: (payload, blobs) => agent.payloads.replicate(payload, blobs),
    monitoring: () => agent.monitoring(),
    caughtUp,
    hasQuorum: () => agent.quorum.hasQuorum(),
    async stop() {
      release.stop();
      await fetcher.stop();
      try {
        await ledger.close();
      } finally {
        await agent.stop();
      }
    },
  };
  return { ledger, hooks, agent, port };
}
