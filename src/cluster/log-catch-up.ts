/**
 * Catching up from a peer when etcd no longer holds the batches a node needs (the log was trimmed past
 * it: CLUSTER_LOG_TRIMMED). The node asks a peer over mutual TLS (`log-peer-route.ts`) for the batches
 * from its position on, and believes none of it because the peer said it:
 *
 * 1. **The peer's log extends this copy to a published head.** The peer's latest published checkpoint
 *    must verify under the pinned log key and cosigner quorum, and the consistency proof from this node's
 *    own size to it must verify — with the one pure verifier (`ledger/verify/consistency.ts`) — against
 *    the root this node computes from its own copy.
 * 2. **The batches are the log's batches.** Each must be the canonical successor of the one before
 *    (seq and SHA-256 of the predecessor, `decodeBatch`), starting from this node's own last applied
 *    batch — and the last one fetched must be the predecessor named by the first batch etcd still
 *    holds. Anchored at both ends (this node's own position, etcd's quorum-replicated log), a peer
 *    cannot substitute a single command without a SHA-256 collision.
 *
 * Only then are the batches applied, in order, through the same state machine step as any other batch;
 * the follower then resumes from etcd. Another peer is tried when one fails any check or is down.
 */
import https from "node:https";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { Range, type Etcd3 } from "etcd3";
import { isCodedError } from "../coded-error.js";
import { nodeIdentity } from "../crypto/pki/index.js";
import { verifyConsistency } from "../ledger/verify/consistency.js";
import { fromHex } from "../ledger/verify/encoding.js";
import { nodeHasher } from "../ledger/node-hasher.js";
import { openPublishedCheckpoint, type CosignerPolicy } from "../ledger/verify/published-checkpoint.js";
import type { VerifierKey } from "../ledger/verify/verifier-key.js";
import {
  decodeBatch,
  type CommandBatch,
  type LogKeys,
  type LogPosition,
} from "./command-log/command-batch.js";
import { ClusterError } from "./errors.js";
import {
  LOG_BATCHES_PATH,
  MAX_ANSWER_BYTES,
  MAX_BATCHES_PER_ANSWER,
  type LogAnswer,
} from "./log-peer-route.js";
import type { PeerEndpoint } from "./peer/peer-client.js";
import type { PeerTls } from "./peer/peer-server.js";
import type { ReplicaPosition } from "./replicated-state.js";

/** Gap this node will hold in memory before applying (batches). */
export const MAX_CATCH_UP_BATCHES = 200_000;

export interface CatchUpOptions {
  readonly client: Etcd3;
  readonly keys: LogKeys;
  readonly position: () => ReplicaPosition;
  readonly apply: (batch: CommandBatch, position: LogPosition) => void;
  /** Root of this node's own copy at `size`. */
  readonly ownRootAt: (size: number) => Uint8Array;
  readonly logKey: VerifierKey;
  readonly policy: CosignerPolicy;
  readonly peers: readonly PeerEndpoint[];
  readonly tls: PeerTls;
  readonly serializable?: boolean;
  readonly timeoutMs?: number;
}

export interface CatchUpResult {
  readonly applied: number;
  readonly from: string | undefined;
  /** Why each peer that was tried and not used was refused. */
  readonly refused: readonly { peer: string; code: string }[];
}

function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** The first batch etcd still holds. */
async function firstInEtcd(o: CatchUpOptions): Promise<{ seq: number; text: string } | undefined> {
  const r = await o.client
    .getAll()
    .inRange(new Range(o.keys.logKey(0), prefixEnd(o.keys.log)))
    .limit(1)
    .serializable(o.serializable === true)
    .exec();
  const kv = r.kvs[0];
  if (kv === undefined) return undefined;
  return { seq: Number(kv.key.toString("utf8").slice(o.keys.log.length)), text: kv.value.toString("utf8") };
}

function askPeer(
  o: CatchUpOptions,
  agent: https.Agent,
  peer: PeerEndpoint,
  query: URLSearchParams,
): Promise<LogAnswer> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${LOG_BATCHES_PATH}?${query.toString()}`, peer.url);
    const req = https.request(
      url,
      {
        method: "GET",
        agent,
        timeout: o.timeoutMs ?? 10_000,
        checkServerIdentity: (host: string, cert: PeerCertificate) =>
          checkServerIdentity(host, cert) ??
          (nodeIdentity(cert)?.nodeName === peer.name
            ? undefined
            : new Error("peer certificate names another node")),
      },
      (res) => {
        const parts: Buffer[] = [];
        let size = 0;
        res.on("data", (part: Buffer) => {
          size += part.length;
          if (size > MAX_ANSWER_BYTES * 2) {
            res.destroy(new Error("answer too large"));
            return;
          }
          parts.push(part);
        });
        res.on("end", () => {
          if (res.statusCode !== 200) {
            reject(
              new ClusterError("CLUSTER_PEER_REQUEST_INVALID", "ノードがログを返しませんでした", {
                peer: peer.name,
                status: res.statusCode,
              }),
            );
            return;
          }
          try {
            const a = JSON.parse(Buffer.concat(parts).toString("utf8")) as Partial<LogAnswer>;
            if (
              !Array.isArray(a.batches) ||
              !a.batches.every((b) => typeof b === "string") ||
              !(a.published === null || typeof a.published === "string") ||
              !Array.isArray(a.consistency)
            ) {
              throw new Error("shape");
            }
            resolve(a as LogAnswer);
          } catch (cause) {
            reject(
              new ClusterError(
                "CLUSTER_PEER_REQUEST_INVALID",
                "ノードの応答が正しくありません",
                { peer: peer.name },
                { cause },
              ),
            );
          }
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (cause) => {
      reject(
        new ClusterError(
          "CLUSTER_PEER_UNREACHABLE",
          "ノードに接続できません",
          { peer: peer.name },
          { cause },
        ),
      );
    });
    req.end();
  });
}

/** Fetches and checks the gap from one peer; applies nothing. */
async function fetchGap(
  o: CatchUpOptions,
  agent: https.Agent,
  peer: PeerEndpoint,
  start: ReplicaPosition,
  first: { seq: number; text: string },
): Promise<{ batch: CommandBatch; position: LogPosition }[]> {
  const fetched: { batch: CommandBatch; position: LogPosition }[] = [];
  let pos: LogPosition = start;
  let proven = false;
  while (pos.seq + 1 < first.seq) {
    const answer = await askPeer(
      o,
      agent,
      peer,
      new URLSearchParams({
        from: String(pos.seq + 1),
        size: String(start.ledgerSize),
        limit: String(Math.min(MAX_BATCHES_PER_ANSWER, first.seq - pos.seq - 1)),
      }),
    );
    if (!proven) {
      if (answer.published === null) {
        throw new ClusterError("CLUSTER_LOG_TRIMMED", "ノードに公開チェックポイントがありません", {
          peer: peer.name,
        });
      }
      const cp = openPublishedCheckpoint(answer.published, o.logKey, o.policy).checkpoint;
      if (cp.size < start.ledgerSize) {
        throw new ClusterError("CLUSTER_LOG_TRIMMED", "ノードの公開チェックポイントが古すぎます", {
          peer: peer.name,
          size: cp.size,
        });
      }
      if (start.ledgerSize > 0) {
        verifyConsistency(
          {
            size1: start.ledgerSize,
            size2: cp.size,
            root1: o.ownRootAt(start.ledgerSize),
            root2: cp.root,
            proof: answer.consistency.map((h) => fromHex(h, "consistency proof")),
          },
          nodeHasher,
        );
      }
      proven = true;
    }
    if (answer.batches.length === 0) {
      throw new ClusterError("CLUSTER_LOG_TRIMMED", "ノードも必要なログを持っていません", {
        peer: peer.name,
        needed: pos.seq + 1,
      });
    }
    for (const text of answer.batches) {
      if (pos.seq + 1 >= first.seq) break;
      const next = decodeBatch(text, pos);
      fetched.push(next);
      pos = next.position;
      if (fetched.length > MAX_CATCH_UP_BATCHES) {
        throw new ClusterError("CLUSTER_LOG_TRIMMED", "追いつくべきログが大きすぎます", {
          batches: fetched.length,
        });
      }
    }
  }
  // The peer's chain must lead exactly to the first batch etcd still holds.
  decodeBatch(first.text, pos);
  return fetched;
}

/**
 * Applies one fetched batch; a failure that is not one of our coded errors (a bug, a library's own
 * error) is given the code CLUSTER_APPLY_FAILED and the batch's position, so the node's log names it.
 */
function applyFetched(
  o: CatchUpOptions,
  g: { batch: CommandBatch; position: LogPosition },
  peer: string,
): void {
  try {
    o.apply(g.batch, g.position);
  } catch (cause) {
    if (isCodedError(cause)) throw cause;
    throw new ClusterError(
      "CLUSTER_APPLY_FAILED",
      "ピアから取得したバッチを適用できませんでした",
      { seq: g.position.seq, peer, error: cause instanceof Error ? cause.name : typeof cause },
      { cause },
    );
  }
}

/**
 * Fetches, checks and applies the batches etcd no longer holds, from the first peer that passes every
 * check.
 * @throws ClusterError CLUSTER_LOG_TRIMMED when no peer could serve a gap that checks out
 */
export async function catchUpFromPeers(o: CatchUpOptions): Promise<CatchUpResult> {
  const start = o.position();
  const first = await firstInEtcd(o).catch((cause: unknown) => {
    throw isCodedError(cause)
      ? cause
      : new ClusterError("CLUSTER_UNAVAILABLE", "etcd からコマンドログを読めません", {}, { cause });
  });
  if (first === undefined || first.seq <= start.seq + 1) return { applied: 0, from: undefined, refused: [] };
  const agent = new https.Agent({
    keepAlive: false,
    ca: o.tls.caCertPem,
    cert: o.tls.certPem,
    key: o.tls.keyPem,
    minVersion: "TLSv1.3",
  });
  const refused: { peer: string; code: string }[] = [];
  try {
    for (const peer of o.peers) {
      let gap: { batch: CommandBatch; position: LogPosition }[];
      try {
        gap = await fetchGap(o, agent, peer, start, first);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        refused.push({ peer: peer.name, code: typeof code === "string" ? code : "CLUSTER_PEER_UNREACHABLE" });
        continue;
      }
      for (const g of gap) applyFetched(o, g, peer.name);
      return { applied: gap.length, from: peer.name, refused };
    }
  } finally {
    agent.destroy();
  }
  throw new ClusterError("CLUSTER_LOG_TRIMMED", "どのノードからもログを取得できません", {
    needed: start.seq + 1,
    firstAvailable: first.seq,
    refused,
  });
}
