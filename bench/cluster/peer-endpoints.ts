/**
 * The bench's in-process nodes' peer endpoints: real mutual-TLS servers on 127.0.0.1 with node
 * certificates from a CA made at start, each with its own chunks.db, serving the node's ledger peer
 * route (`ClusterLedger.peerRoute`: the hand-over of commands to the sequencer, catch-up) once the
 * ledger exists — the endpoints start first because each ledger is told where its peers are.
 */
import type { PeerEndpoint } from "../../src/cluster/peer/peer-client.js";
import {
  startPeerServer,
  type PeerRoute,
  type PeerTls,
  type RunningPeerServer,
} from "../../src/cluster/peer/peer-server.js";
import { createCertificateAuthority, createCrl, issueNodeCertificate } from "../../src/crypto/pki/index.js";
import { openChunkStore } from "../../src/store/chunk-store.js";

export interface BenchPeers {
  /** Node `name`'s TLS identity and the other nodes' endpoints (the ledger's `catchUp`). */
  peersOf(name: string): { peers: PeerEndpoint[]; tls: PeerTls };
  /** Serves `route` on node `name`'s endpoint from now on. */
  mount(name: string, route: PeerRoute): void;
  close(): Promise<void>;
}

/** `files`: the path prefix of each node's chunks.db (`<files>-<name>-chunks.db`). */
export async function startBenchPeers(files: string, names: readonly string[]): Promise<BenchPeers> {
  const now = new Date();
  const ca = await createCertificateAuthority({ commonName: "bench CA", now, validityDays: 2 });
  const crlPem = await createCrl(ca, { revoked: [], now, nextUpdateDays: 1 });
  const routes = new Map<string, PeerRoute>();
  const tls = new Map<string, PeerTls>();
  const servers = new Map<string, RunningPeerServer>();
  for (const name of names) {
    const cert = await issueNodeCertificate(ca, {
      nodeName: name,
      hostNames: ["127.0.0.1"],
      now,
      validityDays: 2,
    });
    const own = { caCertPem: ca.certPem, certPem: cert.certPem, keyPem: cert.keyPem };
    tls.set(name, own);
    const chunks = openChunkStore(`${files}-${name}-chunks.db`);
    const server = await startPeerServer({
      tls: { ...own, crlPem },
      peers: names.filter((n) => n !== name),
      chunks,
      routes: [(req, res, peer) => routes.get(name)?.(req, res, peer) ?? Promise.resolve(false)],
    });
    servers.set(name, server);
  }
  return {
    peersOf: (name) => ({
      peers: names
        .filter((n) => n !== name)
        .map((n) => ({ name: n, url: (servers.get(n) as RunningPeerServer).url })),
      tls: tls.get(name) as PeerTls,
    }),
    mount: (name, route) => {
      routes.set(name, route);
    },
    close: async () => {
      await Promise.all([...servers.values()].map((s) => s.close()));
    },
  };
}
