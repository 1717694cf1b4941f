/**
 * The cluster side of one node, started once from its data directory when it holds a
 * `cluster-node.json` (written by `kenshin cluster init|join`): the etcd client, the node's chunk store
 * and its peer endpoint (mTLS, node certificates), payload replication towards the other nodes, the
 * quorum probe and the durable pending queue of read-only mode, and the presence lease monitoring reads
 * (its one writer, node-presence.ts, fed the quorum here and the node's health and lag by the wiring).
 *
 * The replicated ledger port and the state machine (command log, replica apply, sequencer) are the node
 * wiring's (service/node.ts); it takes from here what it needs. The offline node runs this alone (plus
 * the follower and cosigner): it has no user-facing listener at all (`kenshin cluster agent`).
 */
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Etcd3 } from "etcd3";
import { dataPaths } from "../service/data-dir.js";
import { openChunkStore, type ChunkStore } from "../store/chunk-store.js";
import { nodeFiles } from "./cluster-init.js";
import type { NodeClusterConfig } from "./cluster-topology.js";
import { ClusterError } from "./errors.js";
import { openNodeEtcdClient, openQuorumProbeClient } from "./etcd-client.js";
import { readClusterOverview, type ClusterOverview } from "./node-overview.js";
import { startNodePresence, type PresencePublisher, type PresenceSources } from "./node-presence.js";
import { createPayloadReplication, type PayloadReplication } from "./payload-replication.js";
import { openPendingQueue, type PendingQueue } from "./pending-queue.js";
import { createPeerClient, type PeerClient } from "./peer/peer-client.js";
import { startPeerServer, type PeerRoute, type PeerTls, type RunningPeerServer } from "./peer/peer-server.js";
import { createEtcdQuorumProbe, type QuorumProbe } from "./quorum-probe.js";

export interface ClusterAgent {
  readonly config: NodeClusterConfig;
  readonly etcd: Etcd3;
  readonly chunks: ChunkStore;
  readonly peerServer: RunningPeerServer;
  readonly peerClient: PeerClient;
  readonly payloads: PayloadReplication;
  readonly quorum: QuorumProbe;
  readonly pending: PendingQueue;
  /** The only writer of this node's presence: facts go in through `presenceSources` and `refresh()`. */
  readonly presence: PresencePublisher;
  /**
   * Gives the presence the node's other facts (the node wiring does, once its integrity and port
   * exist): until a lag is known the node shows "catching-up".
   */
  presenceSources(sources: PresenceSources): void;
  /** The node's mutual-TLS identity (for catch-up from peers). */
  readonly tls: PeerTls;
  /** Adds a resource to the peer endpoint (the ledger port's `peerRoute()`, integrity routes). */
  mount(route: PeerRoute): void;
  /** What monitoring shows of every node (bounded etcd reads). */
  overview(): Promise<ClusterOverview>;
  /**
   * The office monitoring's cluster section (service/cluster/cluster-hooks.ts shape): never throws; etcd not
   * answering in time is `available: false`.
   */
  monitoring(): Promise<{
    available: boolean;
    head?: number;
    sequencer?: string | null;
    publishedSize?: number;
    nodes?: ClusterOverview["overview"];
  }>;
  stop(): Promise<void>;
}

/** The node's cluster configuration, or undefined for a single (embedded) node. */
export function readNodeClusterConfig(dataDir: string): NodeClusterConfig | undefined {
  const file = nodeFiles(dataDir).clusterConfig;
  if (!existsSync(file)) return undefined;
  let value: Partial<NodeClusterConfig>;
  try {
    value = JSON.parse(readFileSync(file, "utf8")) as Partial<NodeClusterConfig>;
  } catch (cause) {
    throw new ClusterError(
      "CLUSTER_OPTION_INVALID",
      `cluster-node.json を読めません: ${file}`,
      {},
      { cause },
    );
  }
  if (value.version !== 1 || typeof value.self !== "string" || !Array.isArray(value.etcd)) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", `cluster-node.json が正しくありません: ${file}`, {});
  }
  return value as NodeClusterConfig;
}

export interface ClusterAgentOptions {
  readonly quorumIntervalMs?: number;
  readonly quorumTimeoutMs?: number;
  readonly presenceTtlSeconds?: number;
  readonly peerTimeoutMs?: number;
}

/**
 * Starts the agent of the node in `dataDir`; undefined when the directory is not a cluster node.
 * @throws ClusterError CLUSTER_OPTION_INVALID; PkiError when the node certificate does not fit the CA
 */
export async function startClusterAgent(
  dataDir: string,
  o: ClusterAgentOptions = {},
): Promise<ClusterAgent | undefined> {
  const config = readNodeClusterConfig(dataDir);
  if (config === undefined) return undefined;
  const paths = dataPaths(dataDir);
  const files = nodeFiles(dataDir);
  const [caCertPem, certPem, keyPem, crlPem] = await Promise.all(
    [paths.caCert, files.nodeCert, files.nodeKey, paths.crl].map((f) => readFile(f, "utf8")),
  ).catch((cause: unknown) => {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "ノード証明書または CA を読めません", {}, { cause });
  });
  const tls = { caCertPem: caCertPem ?? "", certPem: certPem ?? "", keyPem: keyPem ?? "" };
  const chunks = openChunkStore(files.chunks);
  const pending = openPendingQueue(files.pending);
  // Its breakers stay open for 5 s only while another member answers (etcd-client.ts): once a lost
  // majority is back, state changes and lease renewals meet etcd, not circuits opened meanwhile.
  const etcd = openNodeEtcdClient(config.etcd);
  let peerServer: RunningPeerServer | undefined;
  // Read on every request: routes mounted after the start are served from then on.
  const routes: PeerRoute[] = [];
  try {
    peerServer = await startPeerServer({
      tls: { ...tls, crlPem: crlPem ?? "" },
      peers: [...config.online, ...config.offline].map((p) => p.name),
      chunks,
      routes,
      host: config.listenPeer.host,
      port: config.listenPeer.port,
    });
  } catch (error) {
    etcd.close();
    pending.close();
    chunks.close();
    throw error;
  }
  const peerClient = createPeerClient({ tls, timeoutMs: o.peerTimeoutMs ?? 5000 });
  const payloads = createPayloadReplication({
    self: config.self,
    chunks,
    client: peerClient,
    online: config.online,
    offline: config.offline,
    quorum: config.quorum,
  });
  // Its own client without a circuit breaker: the node's client's breakers, opened while there was no
  // majority, would keep the probe at "no majority" for seconds after etcd is whole (etcd-client.ts).
  const probeClient = openQuorumProbeClient(config.etcd);
  const quorum = createEtcdQuorumProbe(probeClient, {
    key: `${config.prefix}quorum-probe`,
    intervalMs: o.quorumIntervalMs ?? 500,
    timeoutMs: o.quorumTimeoutMs ?? 1500,
  });
  // The one rule (node-presence.ts presenceState) over the facts, whoever learnt them.
  const nodePresence = startNodePresence(etcd, {
    prefix: config.prefix,
    node: config.self,
    role: config.role,
    quorum,
    ttlSeconds: o.presenceTtlSeconds ?? 5,
  });
  const presence = nodePresence.publisher;
  const server = peerServer;
  return {
    config,
    etcd,
    chunks,
    peerServer: server,
    peerClient,
    payloads,
    quorum,
    pending,
    presence,
    presenceSources(given) {
      nodePresence.sources(given);
    },
    tls,
    mount: (route) => {
      routes.push(route);
    },
    overview: () => readClusterOverview(etcd, config.prefix, { timeoutMs: 1500 }),
    async monitoring() {
      try {
        const o = await readClusterOverview(etcd, config.prefix, { timeoutMs: 1500 });
        return {
          available: true,
          head: o.head,
          sequencer: o.sequencer ?? null,
          publishedSize: o.publishedSize,
          nodes: o.overview,
        };
      } catch {
        return { available: false };
      }
    },
    async stop() {
      await nodePresence.stop();
      quorum.close();
      probeClient.close();
      await server.close();
      peerClient.close();
      etcd.close();
      pending.close();
      chunks.close();
    },
  };
}
