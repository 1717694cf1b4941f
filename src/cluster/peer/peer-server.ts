/**
 * A node's peer endpoint: HTTPS over mutual TLS 1.3 where both sides present node certificates from the
 * service CA (server+client EKU, node name in the SAN). It serves the chunks it holds and accepts chunks
 * pushed to it, checking every received chunk against its address before storing it, and answers only
 * to the node names it was told are its peers. Users never reach it: it listens on the internal address
 * and refuses any certificate that is not a peer node's.
 */
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { TLSSocket } from "node:tls";
import { nodeIdentity, tlsServerOptions } from "../../crypto/pki/index.js";
import { isCodedError } from "../../coded-error.js";
import { chunkAddress, MAX_CHUNK_BYTES, type ChunkStore } from "../../store/chunk-store.js";
import type { ClusterErrorCode } from "../errors.js";
import { chunkAddressFromPath } from "./peer-routes.js";

export interface PeerTls {
  readonly caCertPem: string;
  /** This node's certificate and key (issueNodeCertificate). */
  readonly certPem: string;
  readonly keyPem: string;
}

/**
 * A further resource of the peer endpoint (e.g. the integrity routes, `integrity/ledger-peer-routes.ts`),
 * called after the caller's node certificate was checked. Resolves true when it answered the request.
 */
export type PeerRoute = (req: IncomingMessage, res: ServerResponse, peer: string) => Promise<boolean>;

export interface PeerServerOptions {
  readonly tls: PeerTls & { readonly crlPem: string };
  /** Node names allowed to call this endpoint. */
  readonly peers: readonly string[];
  readonly chunks: ChunkStore;
  readonly host?: string;
  readonly port?: number;
  readonly maxChunkBytes?: number;
  readonly routes?: readonly PeerRoute[];
}

export interface RunningPeerServer {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

function reply(res: ServerResponse, status: number, code?: ClusterErrorCode): void {
  if (code === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ code }));
}

/** Reads a body of at most `max` bytes; undefined when it is larger (the request is then drained). */
export async function readBody(req: IncomingMessage, max: number): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (Number.isFinite(declared) && declared > max) return undefined;
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > max) return undefined;
    parts.push(part);
  }
  return new Uint8Array(Buffer.concat(parts));
}

async function handle(o: PeerServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const socket = req.socket;
  const peer =
    socket instanceof TLSSocket && socket.authorized ? nodeIdentity(socket.getPeerCertificate()) : undefined;
  if (peer === undefined || !o.peers.includes(peer.nodeName)) {
    reply(res, 403, "CLUSTER_PEER_IDENTITY_INVALID");
    return;
  }
  for (const route of o.routes ?? []) {
    if (await route(req, res, peer.nodeName)) return;
  }
  const address = chunkAddressFromPath(req.url);
  if (address === undefined) {
    reply(res, 404, "CLUSTER_PEER_REQUEST_INVALID");
    return;
  }
  if (req.method === "GET") {
    let bytes: Uint8Array | undefined;
    try {
      bytes = o.chunks.get(address);
    } catch (error) {
      // Our own copy is damaged: say so, so the caller fetches from another peer.
      if (isCodedError(error) && error.code === "STORE_CHUNK_HASH_MISMATCH") {
        reply(res, 503, "CLUSTER_CHUNK_HASH_MISMATCH");
        return;
      }
      throw error;
    }
    if (bytes === undefined) {
      reply(res, 404, "CLUSTER_CHUNK_NOT_FOUND");
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length });
    res.end(bytes);
    return;
  }
  if (req.method === "PUT") {
    const body = await readBody(req, o.maxChunkBytes ?? MAX_CHUNK_BYTES);
    if (body === undefined) {
      reply(res, 413, "CLUSTER_CHUNK_TOO_LARGE");
      return;
    }
    if (chunkAddress(body) !== address) {
      reply(res, 422, "CLUSTER_CHUNK_HASH_MISMATCH");
      return;
    }
    // put() returns after SQLite's fsync: the 201/200 is the durable acknowledgement.
    reply(res, o.chunks.put(address, body) ? 201 : 200);
    return;
  }
  res.setHeader("allow", "GET, PUT");
  reply(res, 405, "CLUSTER_PEER_REQUEST_INVALID");
}

/**
 * Starts the endpoint (port 0 = any free port).
 * @throws PkiError from tlsServerOptions when the certificates do not fit together
 */
export async function startPeerServer(o: PeerServerOptions): Promise<RunningPeerServer> {
  const options = tlsServerOptions(o.tls);
  const server = https.createServer(options, (req, res) => {
    handle(o, req, res).catch(() => {
      if (!res.headersSent) reply(res, 500);
      else res.destroy();
    });
  });
  const host = o.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, host, () => {
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    host,
    port,
    url: `https://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
