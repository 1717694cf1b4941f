/**
 * Calls the integrity routes of one peer (`ledger-peer-routes.ts`) over mutual TLS 1.3 with this node's
 * certificate. The server must present a certificate from the service CA that matches the URL's host and
 * names the node meant (node URN), as for chunks (`peer/peer-client.ts`). Answers are size-bounded and
 * shape-checked here; what they *mean* is proven by the caller (repair.ts), never taken on trust.
 */
import { z } from "zod";
import { fromHex } from "../../ledger/verify/encoding.js";
import { ClusterError } from "../errors.js";
import type { PeerEndpoint } from "../peer/peer-client.js";
import type { PeerTls } from "../peer/peer-server.js";
import { LEDGER_PEER_PREFIX, MAX_ENTRIES, MAX_RANGES, STATE_PEER_PREFIX } from "./ledger-peer-routes.js";
import { peerAgent, requestJson } from "../peer/peer-post.js";

const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const hashesAnswer = z.object({ hashes: z.array(hex64) }).strict();
const entriesAnswer = z
  .object({
    treeSize: z.number().int().nonnegative(),
    entries: z.array(
      z
        .object({
          index: z.number().int().nonnegative(),
          leafHash: hex64,
          entry: z.unknown(),
          proof: z.array(hex64),
        })
        .strict(),
    ),
    recordHashes: z.record(z.string(), z.array(hex64)),
  })
  .strict();
const noteAnswer = z.object({ note: z.string().max(1 << 20) }).strict();
const rowAnswer = z
  .object({ row: z.record(z.string(), z.union([z.string(), z.number(), z.null()])) })
  .strict();

export type ProvenEntriesAnswer = z.infer<typeof entriesAnswer>;

export interface LedgerPeerClient {
  rangeHashes(
    peer: PeerEndpoint,
    size: number,
    ranges: readonly (readonly [number, number])[],
  ): Promise<Uint8Array[]>;
  provenEntries(peer: PeerEndpoint, size: number, indices: readonly number[]): Promise<ProvenEntriesAnswer>;
  checkpoint(peer: PeerEndpoint, size: number): Promise<string | undefined>;
  transferRow(peer: PeerEndpoint, id: string): Promise<Record<string, string | number | null> | undefined>;
  /** The peer's `transfer_damage` row of `id` (undefined when it has none). */
  damageRow(peer: PeerEndpoint, id: string): Promise<Record<string, string | number | null> | undefined>;
  /** Requests made so far (what localisation cost). */
  requests(): number;
  close(): void;
}

export function createLedgerPeerClient(o: { tls: PeerTls; timeoutMs?: number }): LedgerPeerClient {
  const timeoutMs = o.timeoutMs ?? 10_000;
  let requests = 0;
  const agent = peerAgent(o.tls, 4);

  const call = async (
    peer: PeerEndpoint,
    method: "GET" | "POST",
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> => {
    requests++;
    const { status, answer } = await requestJson(agent, peer, method, path, body, {
      timeoutMs,
      maxAnswerBytes: MAX_ANSWER_BYTES,
    });
    return { status, json: answer };
  };

  const ask = async <T>(
    peer: PeerEndpoint,
    schema: z.ZodType<T>,
    method: "GET" | "POST",
    path: string,
    body?: unknown,
  ): Promise<T | undefined> => {
    let answer: { status: number; json: unknown };
    try {
      answer = await call(peer, method, path, body);
    } catch (cause) {
      throw new ClusterError(
        "CLUSTER_PEER_UNREACHABLE",
        "ノードに接続できません",
        { peer: peer.name },
        { cause },
      );
    }
    if (answer.status === 404) return undefined;
    const parsed = schema.safeParse(answer.json);
    if (answer.status !== 200 || !parsed.success) {
      throw new ClusterError("CLUSTER_PEER_REQUEST_INVALID", "ノードの応答が正しくありません", {
        peer: peer.name,
        status: answer.status,
      });
    }
    return parsed.data;
  };

  const must = <T>(value: T | undefined, peer: PeerEndpoint): T => {
    if (value === undefined) {
      throw new ClusterError("CLUSTER_PEER_REQUEST_INVALID", "ノードの応答がありません", { peer: peer.name });
    }
    return value;
  };

  return {
    async rangeHashes(peer, size, ranges) {
      const out: Uint8Array[] = [];
      for (let at = 0; at < ranges.length; at += MAX_RANGES) {
        const part = ranges.slice(at, at + MAX_RANGES);
        const a = must(
          await ask(peer, hashesAnswer, "POST", `${LEDGER_PEER_PREFIX}range-hashes`, { size, ranges: part }),
          peer,
        );
        if (a.hashes.length !== part.length) {
          throw new ClusterError("CLUSTER_PEER_REQUEST_INVALID", "ノードの応答の数が違います", {
            peer: peer.name,
          });
        }
        out.push(...a.hashes.map((h) => fromHex(h)));
      }
      return out;
    },
    async provenEntries(peer, size, indices) {
      const merged: ProvenEntriesAnswer = { treeSize: size, entries: [], recordHashes: {} };
      for (let at = 0; at < indices.length; at += MAX_ENTRIES) {
        const part = indices.slice(at, at + MAX_ENTRIES);
        const a = must(
          await ask(peer, entriesAnswer, "POST", `${LEDGER_PEER_PREFIX}proven-entries`, {
            size,
            indices: part,
          }),
          peer,
        );
        merged.entries.push(...a.entries);
        Object.assign(merged.recordHashes, a.recordHashes);
      }
      return merged;
    },
    async checkpoint(peer, size) {
      return (await ask(peer, noteAnswer, "GET", `${LEDGER_PEER_PREFIX}checkpoints/${size}`))?.note;
    },
    async transferRow(peer, id) {
      return (await ask(peer, rowAnswer, "GET", `${STATE_PEER_PREFIX}transfers/${encodeURIComponent(id)}`))
        ?.row;
    },
    async damageRow(peer, id) {
      return (await ask(peer, rowAnswer, "GET", `${STATE_PEER_PREFIX}damage/${encodeURIComponent(id)}`))?.row;
    },
    requests: () => requests,
    close() {
      agent.destroy();
    },
  };
}
