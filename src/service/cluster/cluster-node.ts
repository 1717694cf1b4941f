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
 * - the node's integrity (`cluster/integrity/node-integrity.ts`, started by `cluster-node-integrity.ts`),
 *   on every node: the guarded cosign the port cosigns through, the entry watch and the rolling full
 *   check in a worker thread over its own connections to ledger.db, the repair from its peers (the repair
 *   entry appended through the port on an online node), the integrity peer route mounted on the agent's
 *   endpoint, its health published in etcd (`health-facts.ts`) and in its presence;
 * - what the server follows as `nodeHealth` (`cluster/serving-state.ts`): `/health` answers 503 and the
 *   user listener closes while the node is quarantined (until it repaired itself) or catching up (until
 *   its applied batch is near the log head: `head-lag.ts`), so haproxy takes the node out meanwhile;
 * - the fetcher of payloads this node missed, the release of deleted payloads' chunks from chunks.db
 *   (`cluster/payload-chunk-release.ts`), and the {@link ClusterHooks} the service and server use.
 *
 * The offline node opens the same way without the guard (it never appends) and serves no users.
 */
import { randomBytes } from "node:crypto";
import { startClusterAgent, type ClusterAgent } from "../../cluster/cluster-agent.js";
import type { ClusterLedger } from "../../cluster/cluster-ledger.js";
import type { NodeClusterConfig } from "../../cluster/cluster-topology.js";
import { ClusterError } from "../../cluster/errors.js";
import { startCheckRequests } from "../../cluster/integrity/check-request.js";
import { NodeHealth } from "../../cluster/integrity/node-health.js";
import type { NodeIntegrity } from "../../cluster/integrity/node-integrity.js";
import { sequencerGate } from "../../cluster/integrity/sequencer-gate.js";
import type { RepairOutcome } from "../../cluster/integrity/repair.js";
import { openNodeLedgerPort } from "../../cluster/node-ledger-port.js";
import {
  notePayloadReleased,
  preparePayloadRefs,
  startPayloadRelease,
} from "../../cluster/payload-chunk-release.js";
import { guardWritePort } from "../../cluster/quorum-guard.js";
import {
  clusterKekRotator,
  finishClusterKekRotation,
  prepareClusterKek,
} from "../../cluster/kek-cluster-rotation.js";
import { keyPeerRoute, startKeyRefetch } from "../../cluster/key-refetch.js";
import { servingState } from "../../cluster/serving-state.js";
import {
  prepareWantedPayloads,
  replicatedPayloadCommitter,
  startPayloadFetcher,
} from "../../cluster/replicated-payloads.js";
import type { LedgerPort } from "../../ledger/embedded-ledger.js";
import type { CheckpointPublished } from "../../ledger/write-port.js";
import type { ServiceDb } from "../../store/service-db.js";
import type { SqliteLog } from "../../store/sqlite-log.js";
import { dataPaths } from "../data-dir.js";
import { startIntegrity } from "./cluster-node-integrity.js";
import type { ClusterHooks } from "./cluster-hooks.js";
import { caughtUpWaiter, headSeqReader, startLagSampler } from "./head-lag.js";
import { commandApplier } from "../state-commands/registry.js";

export interface OpenedClusterNode {
  readonly ledger: LedgerPort;
  readonly hooks: ClusterHooks;
  readonly agent: ClusterAgent;
  /** The replicated port itself (status, failure), unwrapped. */
  readonly port: ClusterLedger;
  /** The node's health, checks and repair (node-integrity.ts). */
  readonly integrity: NodeIntegrity;
  /** The integrity side's own connection to ledger.db (the current one after a repair reopened it). */
  ledgerFile(): SqliteLog;
}

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
  /** Between full checks of the node's own copy (default 5 minutes). */
  readonly checkIntervalMs?: number;
  /** Least time between two full checks asked for by requests that met damage (default 5 s). */
  readonly checkRequestGapMs?: number;
  /** How long a chunk no committed payload references stays in chunks.db (default 6 hours). */
  readonly chunkGraceMs?: number;
  readonly onRepair?: (outcome: RepairOutcome) => void;
  /** Told about failed checks and repairs (default: `onError`). */
  readonly onIntegrityError?: (error: unknown) => void;
  /**
   * Raises the alarm for a chunk no copy could repair and marks its transfer damaged on every node
   * (service/transfers/damage.ts `unrepairableAlarm`, bound once the service context exists). Its
   * failure is reported to `onIntegrityError`; the node's in-memory mark holds meanwhile.
   */
  readonly onUnrepairable?: (damage: { transfer: string | undefined; address: string }) => Promise<void>;
  readonly now?: () => Date;
}): Promise<OpenedClusterNode> {
  prepareWantedPayloads(o.db);
  preparePayloadRefs(o.db);
  prepareClusterKek(o.db);
  const online = o.config.role === "online";
  const kekPath = dataPaths(o.dir).kek;
  // A crash between a rotation's commit and its rename: finished before anything loads the KEK.
  if (online) finishClusterKekRotation(o.db, kekPath);
  const agent = await startClusterAgent(o.dir);
  if (agent === undefined) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "クラスタのノードではありません", {});
  }
  // The port cosigns through the node's integrity, started once the port made ledger.db (below).
  const late: { integrity?: NodeIntegrity } = {};
  // Made before the port so that its sequencer candidacy stands aside while the copy is damaged.
  const health = new NodeHealth({ now: o.now ?? (() => new Date()) });
  let port: ClusterLedger;
  try {
    port = openNodeLedgerPort({
      cosign: (input) => {
        if (late.integrity === undefined) {
          throw new ClusterError("CLUSTER_QUARANTINED", "整合性の点検をまだ始めていません", {});
        }
        return late.integrity.cosign(input);
      },
      sequencerGate: sequencerGate(health),
      dir: o.dir,
      config: o.config,
      etcd: agent.etcd,
      db: o.db,
      applyCommand: commandApplier({
        commitPayload: replicatedPayloadCommitter(agent.chunks),
        releasePayload: notePayloadReleased,
        rotateKek: clusterKekRotator({ online, kekPath }),
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
  agent.mount(keyPeerRoute(o.db));
  const ledger: LedgerPort = online
    ? guardWritePort(port, {
        probe: agent.quorum,
        queue: agent.pending,
        newId: () => randomBytes(16).toString("hex"),
        ...(o.onError !== undefined ? { onDrainError: o.onError } : {}),
      })
    : port;
  let opened: ReturnType<typeof startIntegrity>;
  try {
    opened = startIntegrity(o, agent, port, { health, appendTo: online ? ledger : undefined });
  } catch (error) {
    await ledger.close().catch(() => undefined);
    await agent.stop();
    throw error;
  }
  const integrity = opened.integrity;
  late.integrity = integrity;
  const fetcher = startPayloadFetcher({
    db: o.db,
    chunks: agent.chunks,
    replication: agent.payloads,
    ...(o.onError !== undefined ? { onError: o.onError } : {}),
  });
  // Keys a rotation of the cluster's KEK left to come re-wrapped from a peer (key-refetch.ts).
  const keys = startKeyRefetch({
    db: o.db,
    tls: agent.tls,
    self: o.config.self,
    peers: o.config.online,
    ...(online ? { kekPath } : {}),
    ...(o.onError !== undefined ? { onError: o.onError } : {}),
  });
  // After the apply: a deleted or discarded payload's manifest and chunks leave chunks.db too.
  const release = startPayloadRelease({
    db: o.db,
    chunks: agent.chunks,
    ...(o.chunkGraceMs !== undefined ? { graceMs: o.chunkGraceMs } : {}),
    ...(o.onError !== undefined ? { onError: o.onError } : {}),
  });
  const headSeq = headSeqReader(agent, o.config.prefix);
  const lag = startLagSampler(agent, port, headSeq);
  // What the server follows: not serving while quarantined, repairing, or catching up (serving-state.ts).
  const serving = servingState({ integrity: integrity.health, presence: agent.presence });
  const caughtUp = caughtUpWaiter(agent, port, headSeq);

  // A request that met damage asks for the full check at once (coalesced; none while quarantined).
  const onIntegrityError = o.onIntegrityError ?? o.onError;
  const checks = startCheckRequests({
    run: () => integrity.runNow(),
    busy: () => integrity.health.state !== "healthy",
    ...(o.checkRequestGapMs !== undefined ? { minGapMs: o.checkRequestGapMs } : {}),
    now: () => performance.now(),
    schedule: (fn, ms) => {
      const timer = setTimeout(fn, ms);
      timer.unref();
      return () => {
        clearTimeout(timer);
      };
    },
    ...(onIntegrityError !== undefined ? { onError: onIntegrityError } : {}),
  });

  const hooks: ClusterHooks = {
    replicatePayload: (payload, blobs) => agent.payloads.replicate(payload, blobs),
    monitoring: () => agent.monitoring(),
    caughtUp,
    hasQuorum: () => agent.quorum.hasQuorum(),
    nodeHealth: serving,
    checkIntegrityNow: () => {
      checks.request();
    },
    async stop() {
      lag.stop();
      await checks.stop();
      release.stop();
      await fetcher.stop();
      await keys.stop();
      await opened.stop();
      try {
        await ledger.close();
      } finally {
        await agent.stop();
      }
    },
  };
  return { ledger, hooks, agent, port, integrity: opened.integrity, ledgerFile: opened.storage };
}
