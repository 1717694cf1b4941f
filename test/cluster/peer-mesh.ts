/**
 * Real peer endpoints on 127.0.0.1 for the payload tests (payload-replication, payload-deletion): one
 * mutual-TLS peer server per node, each with its own real chunks.db, node certificates from a CA made
 * at test start. A node is taken down by closing its endpoint and brought back on the same port.
 */
import { join } from "node:path";
import "reflect-metadata";
import { createPeerClient, type PeerClient, type PeerEndpoint } from "../../src/cluster/peer/peer-client.js";
import { startPeerServer, type RunningPeerServer } from "../../src/cluster/peer/peer-server.js";
import {
  createCertificateAuthority,
  createCrl,
  issueNodeCertificate,
  type IssuedCertificate,
} from "../../src/crypto/pki/index.js";
import { openChunkStore, type ChunkStore } from "../../src/store/chunk-store.js";

export interface PeerMesh<N extends string> {
  /** Each node's chunks.db (`<dir>/<name>-chunks.db`). */
  readonly stores: Readonly<Record<N, ChunkStore>>;
  /** Starts `name`'s endpoint again, on the port it had. */
  readonly start: (name: N) => Promise<void>;
  /** Closes `name`'s endpoint (its chunks.db stays open). */
  readonly stop: (name: N) => Promise<void>;
  /** Where the others reach `name` (the same URL across a stop and start). */
  readonly endpoint: (name: N) => PeerEndpoint;
  /** A peer client as node `name` runs it; closed with the mesh. */
  readonly client: (name: N, o: { rounds: number; pauseMs: number; timeoutMs: number }) => PeerClient;
  /** Closes the clients, the endpoints and the chunk stores. */
  readonly close: () => Promise<void>;
}

/** Makes the CA and each node's certificate and chunks.db in `dir`, then starts every endpoint. */
export async function startPeerMesh<N extends string>(o: {
  readonly dir: string;
  readonly names: readonly N[];
  readonly caName: string;
  readonly validityDays: number;
}): Promise<PeerMesh<N>> {
  const now = new Date();
  const ca = await createCertificateAuthority({ commonName: o.caName, now, validityDays: o.validityDays });
  const crlPem = await createCrl(ca, { revoked: [], now, nextUpdateDays: 1 });
  const certs = {} as Record<N, IssuedCertificate>;
  const stores = {} as Record<N, ChunkStore>;
  const servers = new Map<N, RunningPeerServer>();
  const ports = new Map<N, number>();
  const clients: PeerClient[] = [];
  const start = async (name: N): Promise<void> => {
    const port = ports.get(name);
    const server = await startPeerServer({
      tls: { caCertPem: ca.certPem, certPem: certs[name].certPem, keyPem: certs[name].keyPem, crlPem },
      peers: o.names.filter((n) => n !== name),
      chunks: stores[name],
      ...(port === undefined ? {} : { port }),
    });
    servers.set(name, server);
    ports.set(name, server.port);
  };
  for (const name of o.names) {
    certs[name] = await issueNodeCertificate(ca, {
      nodeName: name,
      hostNames: ["127.0.0.1"],
      now,
      validityDays: o.validityDays,
    });
    stores[name] = openChunkStore(join(o.dir, `${name}-chunks.db`));
    await start(name);
  }
  return {
    stores,
    start,
    stop: async (name) => {
      await servers.get(name)?.close();
      servers.delete(name);
    },
    endpoint: (name) => ({ name, url: `https://127.0.0.1:${ports.get(name) ?? 0}` }),
    client: (name, c) => {
      const client = createPeerClient({
        tls: { caCertPem: ca.certPem, certPem: certs[name].certPem, keyPem: certs[name].keyPem },
        ...c,
      });
      clients.push(client);
      return client;
    },
    close: async () => {
      for (const c of clients) c.close();
      await Promise.all([...servers.values()].map((s) => s.close()));
      for (const name of o.names) stores[name].close();
    },
  };
}
