/**
 * Calling peers over mutual TLS with this node's certificate: fetch a chunk from any peer that holds it
 * (each answer re-hashed on receipt; a peer that sends other bytes is skipped like one that is down),
 * push a chunk to peers, and push until a quorum has it durably. Every call is bounded: a per-request
 * timeout, a fixed number of rounds over the peers, a fixed pause between rounds.
 *
 * The server's certificate must chain to the service CA, match the URL's host, and name the node the
 * caller meant to reach (node URN), so a node cannot be impersonated by another node's certificate.
 */
import https from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { chunkAddress, MAX_CHUNK_BYTES } from "../../store/chunk-store.js";
import { ClusterError, type ClusterErrorCode } from "../errors.js";
import { chunkPath } from "./peer-routes.js";
import type { PeerTls } from "./peer-server.js";
import { peerServerIdentity } from "./peer-identity.js";

export interface PeerEndpoint {
  /** The node name its certificate must carry. */
  readonly name: string;
  /** `https://host:port` of its peer endpoint. */
  readonly url: string;
}

export interface PeerClientOptions {
  readonly tls: PeerTls;
  readonly timeoutMs?: number;
  /** Rounds over all peers before giving up (≥ 1). */
  readonly rounds?: number;
  readonly pauseMs?: number;
  readonly maxChunkBytes?: number;
}

/** What one peer answered for one attempt. */
export interface PeerOutcome {
  readonly peer: string;
  readonly code: ClusterErrorCode | "OK";
}

export interface QuorumPush {
  /** Peers that acknowledged the chunk as durably stored before the quorum was reached. */
  readonly stored: readonly string[];
  /** Settles with every peer's outcome once all pushes have finished (the rest go on in the background). */
  readonly all: Promise<readonly PeerOutcome[]>;
}

export interface PeerClient {
  fetchChunk(
    address: string,
    peers: readonly PeerEndpoint[],
  ): Promise<{ bytes: Uint8Array; from: string; outcomes: readonly PeerOutcome[] }>;
  pushChunk(peer: PeerEndpoint, address: string, bytes: Uint8Array): Promise<"stored" | "held">;
  /** Pushes to every peer and resolves once `required` of them hold the chunk. */
  pushToQuorum(
    peers: readonly PeerEndpoint[],
    address: string,
    bytes: Uint8Array,
    required: number,
  ): Promise<QuorumPush>;
  close(): void;
}

interface RawAnswer {
  status: number;
  body: Uint8Array;
  code?: string;
}

export function createPeerClient(o: PeerClientOptions): PeerClient {
  const timeoutMs = o.timeoutMs ?? 5000;
  const rounds = Math.max(1, Math.floor(o.rounds ?? 3));
  const pauseMs = o.pauseMs ?? 200;
  const maxBytes = o.maxChunkBytes ?? MAX_CHUNK_BYTES;
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: 8,
    ca: o.tls.caCertPem,
    cert: o.tls.certPem,
    key: o.tls.keyPem,
    minVersion: "TLSv1.3",
  });

  const request = (
    peer: PeerEndpoint,
    method: "GET" | "PUT",
    address: string,
    body?: Uint8Array,
  ): Promise<RawAnswer> =>
    new Promise((resolve, reject) => {
      const url = new URL(chunkPath(address), peer.url);
      const req = https.request(
        url,
        {
          method,
          agent,
          timeout: timeoutMs,
          headers: body === undefined ? {} : { "content-length": body.length },
          checkServerIdentity: peerServerIdentity(peer.name),
        },
        (res) => {
          const parts: Buffer[] = [];
          let size = 0;
          res.on("data", (part: Buffer) => {
            size += part.length;
            if (size > maxBytes) {
              res.destroy(new Error("answer too large"));
              return;
            }
            parts.push(part);
          });
          res.on("end", () => {
            const bytes = new Uint8Array(Buffer.concat(parts));
            let code: string | undefined;
            if (res.headers["content-type"] === "application/json") {
              try {
                code = (JSON.parse(Buffer.from(bytes).toString("utf8")) as { code?: string }).code;
              } catch {
                code = undefined;
              }
            }
            resolve({ status: res.statusCode ?? 0, body: bytes, ...(code === undefined ? {} : { code }) });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", reject);
      req.end(body);
    });

  const pushChunk = async (
    peer: PeerEndpoint,
    address: string,
    bytes: Uint8Array,
  ): Promise<"stored" | "held"> => {
    let answer: RawAnswer;
    try {
      answer = await request(peer, "PUT", address, bytes);
    } catch (cause) {
      throw new ClusterError(
        "CLUSTER_PEER_UNREACHABLE",
        "ノードに接続できません",
        { peer: peer.name },
        { cause },
      );
    }
    if (answer.status === 201) return "stored";
    if (answer.status === 200) return "held";
    const code = (answer.code ?? "CLUSTER_PEER_UNREACHABLE") as ClusterErrorCode;
    throw new ClusterError(code, "ノードがチャンクを受け取りませんでした", {
      peer: peer.name,
      status: answer.status,
    });
  };

  return {
    async fetchChunk(address, peers) {
      const outcomes: PeerOutcome[] = [];
      for (let round = 0; round < rounds; round++) {
        if (round > 0) await sleep(pauseMs);
        for (const peer of peers) {
          let answer: RawAnswer;
          try {
            answer = await request(peer, "GET", address);
          } catch {
            outcomes.push({ peer: peer.name, code: "CLUSTER_PEER_UNREACHABLE" });
            continue;
          }
          if (answer.status === 200) {
            // Checked on receipt: only bytes that hash to the address are ever returned.
            if (chunkAddress(answer.body) === address) {
              outcomes.push({ peer: peer.name, code: "OK" });
              return { bytes: answer.body, from: peer.name, outcomes };
            }
            outcomes.push({ peer: peer.name, code: "CLUSTER_CHUNK_HASH_MISMATCH" });
            continue;
          }
          outcomes.push({
            peer: peer.name,
            code: answer.status === 404 ? "CLUSTER_CHUNK_NOT_FOUND" : toCode(answer.code),
          });
        }
      }
      const codes = new Set(outcomes.map((x) => x.code));
      const code: ClusterErrorCode = codes.has("CLUSTER_CHUNK_HASH_MISMATCH")
        ? "CLUSTER_CHUNK_HASH_MISMATCH"
        : codes.has("CLUSTER_PEER_UNREACHABLE") || codes.size !== 1
          ? "CLUSTER_PEER_UNREACHABLE"
          : "CLUSTER_CHUNK_NOT_FOUND";
      throw new ClusterError(code, "どのノードからもチャンクを取得できません", {
        address,
        rounds,
        outcomes,
      });
    },
    pushChunk,
    async pushToQuorum(peers, address, bytes, required) {
      if (!Number.isInteger(required) || required < 0 || required > peers.length) {
        throw new ClusterError("CLUSTER_OPTION_INVALID", "必要な複製数が正しくありません", { required });
      }
      const stored: string[] = [];
      const outcomes: PeerOutcome[] = [];
      let reached: () => void = () => undefined;
      const quorum = new Promise<void>((resolve) => {
        reached = resolve;
      });
      if (required === 0) reached();
      const all = Promise.all(
        peers.map(async (peer) => {
          try {
            await pushChunk(peer, address, bytes);
            outcomes.push({ peer: peer.name, code: "OK" });
            stored.push(peer.name);
            if (stored.length === required) reached();
          } catch (error) {
            outcomes.push({
              peer: peer.name,
              code: error instanceof ClusterError ? error.code : "CLUSTER_PEER_UNREACHABLE",
            });
          }
        }),
      ).then(() => outcomes as readonly PeerOutcome[]);
      await Promise.race([quorum, all]);
      if (stored.length < required) {
        throw new ClusterError("CLUSTER_UNAVAILABLE", "必要な数のノードにチャンクを保存できません", {
          required,
          stored: [...stored],
          outcomes: await all,
        });
      }
      return { stored: stored.slice(0, required), all };
    },
    close() {
      agent.destroy();
    },
  };
}

function toCode(code: string | undefined): ClusterErrorCode {
  return code === "CLUSTER_CHUNK_HASH_MISMATCH" || code === "CLUSTER_PEER_IDENTITY_INVALID"
    ? code
    : "CLUSTER_PEER_UNREACHABLE";
}
