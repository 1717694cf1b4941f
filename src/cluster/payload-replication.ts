/**
 * Payload replication: the encrypted chunks of an upload go to every peer over mutual TLS by content
 * address (peer/peer-client.ts; each receiver re-hashes what it gets), and the upload may be
 * acknowledged only once a quorum of the *online* nodes — this one included — holds every chunk
 * durably (chunk-store `put` returns after SQLite's fsync; a peer's 201/200 means the same). The
 * offline backup node is pushed to as well but never counted: it is a copy of last resort, not a
 * member of the majority, and it holds no KEK, so what it keeps stays ciphertext.
 *
 * A node that missed chunks (it was down, or a push to it failed) fetches them later by the addresses
 * the log records ({@link PayloadReplication.ensurePayload}): the manifest first, then each chunk it
 * names, from whichever peer has it, checked on receipt.
 *
 * Pushing to the online peers is chunk by chunk with a small window, so memory stays bounded by the
 * window, not by the payload. The offline node is pushed to in the background, in order, at most
 * {@link MAX_OFFLINE_LAG} chunks behind (also bounded), so a slow backup never delays an upload. A peer
 * that fails a chunk (after the client's retries) is dropped for the rest of that payload; it catches up
 * by fetching. Every call is bounded by the peer client's timeouts and rounds.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { chunkAddress, type ChunkStore } from "../store/chunk-store.js";
import { ClusterError } from "./errors.js";
import { noQuorumError } from "./quorum-errors.js";
import {
  decodeManifest,
  encodeManifest,
  type PayloadKindName,
  type PayloadManifest,
  type PayloadReference,
} from "./payload-manifest.js";
import type { PeerClient, PeerEndpoint } from "./peer/peer-client.js";

export interface PayloadReplicationOptions {
  /** This node's name. */
  readonly self: string;
  /** This node's own chunk store. */
  readonly chunks: ChunkStore;
  readonly client: PeerClient;
  /** The other online nodes (they count towards the quorum). */
  readonly online: readonly PeerEndpoint[];
  /** Offline backup nodes: pushed to, never counted, never required. */
  readonly offline?: readonly PeerEndpoint[];
  /** Online nodes (this one included) that must hold a payload; default a majority of all online nodes. */
  readonly quorum?: number;
  /** Chunks in flight at once per payload (default 4). */
  readonly window?: number;
  /** Attempts per chunk and peer before the peer is dropped for this payload (default 2). */
  readonly attempts?: number;
  readonly retryPauseMs?: number;
}

/** What one replicated payload reached. */
export interface ReplicationReceipt {
  readonly reference: PayloadReference;
  readonly manifest: PayloadManifest;
  /** Online nodes (this one first) that hold every chunk and the manifest durably. */
  readonly holders: readonly string[];
  /**
   * The offline nodes' copies, pushed in order in the background (the acknowledgement never waits for
   * them): settles once each offline node holds all of it ("OK") or failed (its code; it fetches later).
   */
  readonly offline: Promise<readonly { readonly peer: string; readonly code: string }[]>;
  /** Peers dropped for this payload, with the code of their last failure (they fetch later). */
  readonly missed: readonly { readonly peer: string; readonly code: string }[];
}

export interface PayloadReplication {
  readonly quorum: number;
  /**
   * Stores the blobs of one payload here and on the peers, then its manifest; resolves once the
   * quorum holds all of it.
   * @throws ClusterError CLUSTER_NO_QUORUM (fewer than `quorum` online nodes hold it; nothing may be
   *   acknowledged), CLUSTER_PEER_REQUEST_INVALID for an empty payload
   */
  replicate(
    payload: {
      readonly transfer: string;
      readonly kind: PayloadKindName;
      /** The transfer's KEK-wrapped data key, carried in the manifest (payload-manifest.ts says why). */
      readonly key?: { readonly kekId: string; readonly bytes: Uint8Array };
    },
    blobs: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  ): Promise<ReplicationReceipt>;
  /**
   * Makes sure this node holds the manifest and every chunk of a payload, fetching what is missing from
   * the peers (checked on receipt). Returns the manifest and how many chunks were fetched.
   * @throws ClusterError CLUSTER_CHUNK_NOT_FOUND / CLUSTER_PEER_UNREACHABLE / CLUSTER_CHUNK_HASH_MISMATCH
   */
  ensurePayload(reference: PayloadReference): Promise<{ manifest: PayloadManifest; fetched: number }>;
  /** Fetches the addresses this node does not hold. Returns how many were fetched. */
  ensureLocal(addresses: readonly string[]): Promise<number>;
  /** A chunk held here (re-hashed), for an applier inside a synchronous transaction. */
  localChunk(address: string): Uint8Array | undefined;
}

/** Chunks the background push to an offline node may fall behind before the upload waits for it. */
export const MAX_OFFLINE_LAG = 32;

/** The majority of `n` online nodes. */
export function majorityOf(n: number): number {
  return Math.floor(n / 2) + 1;
}

export function createPayloadReplication(o: PayloadReplicationOptions): PayloadReplication {
  const offline = o.offline ?? [];
  const onlineCount = o.online.length + 1;
  const quorum = o.quorum ?? majorityOf(onlineCount);
  if (!Number.isInteger(quorum) || quorum < 1 || quorum > onlineCount) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "必要な複製数が正しくありません", {
      quorum,
      onlineCount,
    });
  }
  const window = Math.max(1, Math.floor(o.window ?? 4));
  const attempts = Math.max(1, Math.floor(o.attempts ?? 2));
  const retryPauseMs = o.retryPauseMs ?? 100;
  const allPeers = [...o.online, ...offline];

  interface Lane {
    readonly peer: PeerEndpoint;
    tail: Promise<void>;
    queued: number;
    failed: string | undefined;
  }
  /** Appends a push to each offline node's ordered background lane. */
  const toOffline = async (lanes: readonly Lane[], address: string, blob: Uint8Array): Promise<void> => {
    for (const lane of lanes) {
      if (lane.failed !== undefined) continue;
      if (lane.queued >= MAX_OFFLINE_LAG) await lane.tail;
      lane.queued++;
      lane.tail = lane.tail
        .then(async () => {
          if (lane.failed !== undefined) return;
          lane.failed = await pushOne(lane.peer, address, blob);
        })
        .finally(() => {
          lane.queued--;
        });
    }
  };

  /** Pushes one blob to one peer, retrying; the failure code, or undefined when it is stored. */
  const pushOne = async (
    peer: PeerEndpoint,
    address: string,
    blob: Uint8Array,
  ): Promise<string | undefined> => {
    let code = "CLUSTER_PEER_UNREACHABLE";
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await sleep(retryPauseMs);
      try {
        await o.client.pushChunk(peer, address, blob);
        return undefined;
      } catch (error) {
        code = error instanceof ClusterError ? error.code : code;
        // A peer that says the bytes do not match the address will not change its mind.
        if (code === "CLUSTER_CHUNK_HASH_MISMATCH" || code === "CLUSTER_PEER_IDENTITY_INVALID") break;
      }
    }
    return code;
  };

  const ensureLocal = async (addresses: readonly string[]): Promise<number> => {
    let fetched = 0;
    for (const address of addresses) {
      if (o.chunks.has(address)) continue;
      const got = await o.client.fetchChunk(address, allPeers);
      // fetchChunk returns only bytes that hash to the address; put checks once more before storing.
      o.chunks.put(address, got.bytes);
      fetched++;
    }
    return fetched;
  };

  return {
    quorum,
    async replicate(payload, blobs) {
      const live = new Map<string, PeerEndpoint>(o.online.map((p) => [p.name, p]));
      const lanes: Lane[] = offline.map((peer) => ({
        peer,
        tail: Promise.resolve(),
        queued: 0,
        failed: undefined,
      }));
      const offlineSettled = async (): Promise<{ peer: string; code: string }[]> => {
        await Promise.all(lanes.map((l) => l.tail));
        return lanes.map((l) => ({ peer: l.peer.name, code: l.failed ?? "OK" }));
      };
      const missed = new Map<string, string>();
      const addresses: string[] = [];
      let bytes = 0;
      const inFlight = new Set<Promise<void>>();

      const send = async (address: string, blob: Uint8Array): Promise<void> => {
        await Promise.all(
          [...live.values()].map(async (peer) => {
            const code = await pushOne(peer, address, blob);
            if (code !== undefined && live.delete(peer.name)) missed.set(peer.name, code);
          }),
        );
      };
      const enqueue = async (blob: Uint8Array): Promise<void> => {
        const address = chunkAddress(blob);
        o.chunks.put(address, blob);
        await toOffline(lanes, address, blob);
        const p = send(address, blob).finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= window) await Promise.race(inFlight);
        // Give up early once the quorum can no longer be reached: the caller answers 503 at once.
        if (liveOnline() + 1 < quorum) throw noQuorum();
        return undefined;
      };
      const liveOnline = (): number => o.online.filter((p) => live.has(p.name)).length;
      const noQuorum = (): ClusterError =>
        noQuorumError({
          required: quorum,
          holders: liveOnline() + 1,
          missed: [...missed].map(([peer, code]) => ({ peer, code })),
        });

      try {
        for await (const blob of blobs) {
          addresses.push(chunkAddress(blob));
          bytes += blob.length;
          await enqueue(blob);
        }
        await Promise.all(inFlight);
        if (addresses.length === 0) {
          throw new ClusterError("CLUSTER_PEER_REQUEST_INVALID", "空のペイロードは複製できません", {});
        }
        const manifest: PayloadManifest = {
          v: 1,
          transfer: payload.transfer,
          kind: payload.kind,
          chunks: addresses,
          bytes,
          ...(payload.key !== undefined
            ? { key: { kek: payload.key.kekId, wrapped: Buffer.from(payload.key.bytes).toString("base64") } }
            : {}),
        };
        const encoded = encodeManifest(manifest);
        // The manifest last: a peer holding it holds every chunk it names (pushed before, in order).
        await enqueue(encoded.blob);
        await Promise.all(inFlight);
        if (liveOnline() + 1 < quorum) throw noQuorum();
        return {
          reference: { manifest: encoded.address, chunks: addresses.length },
          manifest,
          holders: [o.self, ...o.online.filter((p) => live.has(p.name)).map((p) => p.name)],
          offline: offlineSettled(),
          missed: [...missed].map(([peer, code]) => ({ peer, code })),
        };
      } finally {
        // Never leave pushes running after an early refusal (they are bounded, but finish them here).
        await Promise.allSettled(inFlight);
      }
    },
    async ensurePayload(reference) {
      let fetched = await ensureLocal([reference.manifest]);
      const blob = o.chunks.get(reference.manifest);
      if (blob === undefined) {
        throw new ClusterError("CLUSTER_CHUNK_NOT_FOUND", "ペイロードの目録がありません", {
          address: reference.manifest,
        });
      }
      const manifest = decodeManifest(blob);
      if (manifest.chunks.length !== reference.chunks) {
        throw new ClusterError("CLUSTER_PEER_REQUEST_INVALID", "ペイロードの目録が記録と一致しません", {
          address: reference.manifest,
        });
      }
      fetched += await ensureLocal(manifest.chunks);
      return { manifest, fetched };
    },
    ensureLocal,
    localChunk: (address) => o.chunks.get(address),
  };
}
