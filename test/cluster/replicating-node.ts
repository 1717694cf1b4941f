/**
 * A real node (real TLS server, real demo accounts, the real upload API) whose payload replication
 * pushes to three real peer endpoints over mutual TLS — two online nodes and the backup, each with its
 * own real chunks.db — for the tests of the upload path through the cluster hook (upload-quorum,
 * chunk-sweep). The peers' transport has its own CA; the node under test keeps its demo CA for users.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "reflect-metadata";
import { createPayloadReplication } from "../../src/cluster/payload-replication.js";
import { createPeerClient, type PeerClient } from "../../src/cluster/peer/peer-client.js";
import { startPeerServer, type RunningPeerServer } from "../../src/cluster/peer/peer-server.js";
import {
  createCertificateAuthority,
  createCrl,
  issueNodeCertificate,
  type IssuedCertificate,
} from "../../src/crypto/pki/index.js";
import type { ClusterMonitoring } from "../../src/service/cluster/cluster-hooks.js";
import { openChunkStore, type ChunkStore } from "../../src/store/chunk-store.js";
import { startTestNode, type TestNode } from "../support/test-node.js";

/** The node under test is `node1`; these are its peers. */
export const PEERS = ["node2", "node3", "backup"] as const;
export type PeerName = (typeof PEERS)[number];

export interface ReplicatingNode {
  readonly dir: string;
  readonly node: TestNode;
  /** node1's own chunks.db, where its uploads' sealed chunks are stored first. */
  readonly own: ChunkStore;
  /** Each peer's chunks.db. */
  readonly stores: ReadonlyMap<string, ChunkStore>;
  /** True while the peer's endpoint runs. */
  readonly peerUp: (name: PeerName) => boolean;
  /** Stops both online peers' endpoints (the backup stays): uploads then have no quorum. */
  readonly stopOnlinePeers: () => Promise<void>;
  readonly close: () => Promise<void>;
}

/**
 * Starts the three peers, then node1 with its payload replication to them; `monitoring` gives the hook's
 * cluster section (default: not available).
 */
export async function startReplicatingNode(options: {
  /** The temp dir's name prefix. */
  readonly prefix: string;
  readonly monitoring?: (peerUp: (name: PeerName) => boolean) => Promise<ClusterMonitoring>;
}): Promise<ReplicatingNode> {
  const dir = mkdtempSync(join(tmpdir(), options.prefix));
  const stores = new Map<PeerName, ChunkStore>();
  const servers = new Map<PeerName, RunningPeerServer>();
  let client: PeerClient | undefined;
  let own: ChunkStore | undefined;
  let node: TestNode | undefined;
  const close = async (): Promise<void> => {
    await node?.close();
    client?.close();
    await Promise.all([...servers.values()].map((s) => s.close()));
    for (const s of stores.values()) s.close();
    own?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const now = new Date();
    const ca = await createCertificateAuthority({ commonName: "cluster CA", now, validityDays: 2 });
    const crlPem = await createCrl(ca, { revoked: [], now, nextUpdateDays: 1 });
    const cert = async (name: string): Promise<IssuedCertificate> =>
      issueNodeCertificate(ca, { nodeName: name, hostNames: ["127.0.0.1"], now, validityDays: 2 });
    for (const name of PEERS) {
      const c = await cert(name);
      const store = openChunkStore(join(dir, `${name}.db`));
      stores.set(name, store);
      servers.set(
        name,
        await startPeerServer({
          tls: { caCertPem: ca.certPem, certPem: c.certPem, keyPem: c.keyPem, crlPem },
          peers: ["node1", ...PEERS.filter((p) => p !== name)],
          chunks: store,
        }),
      );
    }
    const mine = await cert("node1");
    client = createPeerClient({ tls: { caCertPem: ca.certPem, ...mine }, rounds: 1, timeoutMs: 2000 });
    const endpoint = (name: PeerName) => ({ name, url: servers.get(name)?.url ?? "" });
    own = openChunkStore(join(dir, "node1-chunks.db"));
    const replication = createPayloadReplication({
      self: "node1",
      chunks: own,
      client,
      online: [endpoint("node2"), endpoint("node3")],
      offline: [endpoint("backup")],
      retryPauseMs: 20,
    });
    const peerUp = (name: PeerName): boolean => servers.has(name);
    const monitoring = options.monitoring;
    node = await startTestNode({
      cluster: {
        replicatePayload: (payload, blobs) => replication.replicate(payload, blobs),
        monitoring: () =>
          monitoring === undefined ? Promise.resolve({ available: false }) : monitoring(peerUp),
      },
    });
    return {
      dir,
      node,
      own,
      stores,
      peerUp,
      stopOnlinePeers: async () => {
        for (const name of ["node2", "node3"] as const) {
          await servers.get(name)?.close();
          servers.delete(name);
        }
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
