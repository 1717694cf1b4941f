/**
 * What a node serves a peer that etcd can no longer serve (the command log was trimmed past it), on the
 * peer endpoint (mutual TLS with node certificates, `peer/peer-server.ts`):
 *
 *   GET /cluster/v1/log/batches?from=<seq>&size=<ledger size>&limit=<n>
 *     → {batches: [canonical batch text, …], published: <note>, consistency: [hex, …]}
 *
 * `batches` are the archived batches from `from` on, exactly as they were in etcd (each names its
 * predecessor's hash); `published` is this node's latest quorum-published checkpoint and `consistency` the
 * RFC 9162 consistency proof from the asker's ledger size to that checkpoint's size. Nothing here is
 * believed by the asker because a peer said it (`log-catch-up.ts` checks all of it). Bounded: at most
 * {@link MAX_BATCHES_PER_ANSWER} batches, and no more than {@link MAX_ANSWER_BYTES} of them.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { PeerRoute } from "./peer/peer-server.js";

export const LOG_BATCHES_PATH = "/cluster/v1/log/batches";
export const MAX_BATCHES_PER_ANSWER = 500;
export const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** What the route reads from the node it runs on. */
export interface LogPeerSource {
  batchesFrom(from: number, limit: number): string[];
  /** The latest published checkpoint this node holds, if any. */
  published(): { readonly size: number; readonly note: string } | undefined;
  /** Consistency proof (hex) between two sizes of this node's own copy. */
  consistencyProof(from: number, to: number): string[];
}

export interface LogAnswer {
  readonly batches: readonly string[];
  readonly published: string | null;
  readonly publishedSize: number;
  readonly consistency: readonly string[];
}

function send(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  return true;
}

const COUNT = /^[0-9]{1,15}$/;

export function logPeerRoute(source: LogPeerSource): PeerRoute {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "https://peer.invalid");
    if (url.pathname !== LOG_BATCHES_PATH) return Promise.resolve(false);
    if (req.method !== "GET") {
      res.setHeader("allow", "GET");
      return Promise.resolve(send(res, 405, { code: "CLUSTER_PEER_REQUEST_INVALID" }));
    }
    const from = url.searchParams.get("from") ?? "";
    const size = url.searchParams.get("size") ?? "";
    const limit = url.searchParams.get("limit") ?? String(MAX_BATCHES_PER_ANSWER);
    if (!COUNT.test(from) || !COUNT.test(size) || !COUNT.test(limit) || Number(from) < 1) {
      return Promise.resolve(send(res, 400, { code: "CLUSTER_PEER_REQUEST_INVALID" }));
    }
    const s = source;
    const batches: string[] = [];
    let bytes = 0;
    for (const text of s.batchesFrom(Number(from), Math.min(Number(limit), MAX_BATCHES_PER_ANSWER))) {
      bytes += text.length;
      if (batches.length > 0 && bytes > MAX_ANSWER_BYTES) break;
      batches.push(text);
    }
    const cp = s.published();
    const published = cp?.note ?? null;
    const to = cp?.size ?? 0;
    let consistency: string[] = [];
    if (published !== null && Number(size) > 0 && Number(size) <= to) {
      try {
        consistency = s.consistencyProof(Number(size), to);
      } catch {
        consistency = [];
      }
    }
    const answer: LogAnswer = { batches, published, publishedSize: to, consistency };
    return Promise.resolve(send(res, 200, answer));
  };
}
