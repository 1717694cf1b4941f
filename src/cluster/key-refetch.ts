/**
 * Re-wrapped data keys from a peer, after the cluster's KEK was rotated (kek-cluster-rotation.ts).
 *
 * A manifest keeps the data key wrapped under the KEK of the upload, so once a rotation destroyed that
 * KEK, a key taken from a manifest later (a node fetching a payload it missed) opens nothing; and the
 * offline node, which holds no KEK, cannot re-wrap its own rows. Both note the transfer in the node-local
 * `cluster_key_wanted` with the KEK id the key must be under, and {@link startKeyRefetch} asks the online
 * peers for their current `transfer_keys` row of it over the node mTLS:
 *
 *   GET /cluster/v1/keys/<transfer id>  → {kek, wrapped} (base64), 404 without a row
 *
 * Only KEK-wrapped bytes travel, as they already do in manifests; the KEK itself never does. The answer is
 * believed only under the wanted KEK id, and on an online node only when it unwraps under the node's own
 * KEK for that transfer (the wrap's associated data binds the transfer); the offline node can check the
 * id alone (what the bytes open is proven by a drill with the operators' KEK). A transfer deleted or
 * discarded meanwhile is dropped, never given a key again.
 */
import type https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { loadKek } from "../crypto/kek-file.js";
import type { ServiceDb } from "../store/service-db.js";
import type { PeerEndpoint } from "./peer/peer-client.js";
import { peerAgent, requestJson } from "./peer/peer-post.js";
import type { PeerRoute, PeerTls } from "./peer/peer-server.js";

export const KEY_PEER_PREFIX = "/cluster/v1/keys/";
const KEY_PATH = /^\/cluster\/v1\/keys\/([A-Za-z0-9_-]{1,200})$/;
const MAX_ANSWER_BYTES = 4096;
const keyAnswer = z
  .object({
    kek: z.string().regex(/^[0-9a-f]{16}$/),
    wrapped: z.string().regex(/^[A-Za-z0-9+/]{80}$/),
  })
  .strict();

const WANTED_TABLE = `CREATE TABLE IF NOT EXISTS cluster_key_wanted (
  transfer_id TEXT PRIMARY KEY,
  kek_id TEXT NOT NULL
) STRICT`;

/** Makes the node-local table of keys still to fetch (idempotent). */
export function prepareWantedKeys(db: ServiceDb): void {
  db.exec(WANTED_TABLE);
}

/** Notes that `transferId`'s key must come from a peer, under `kekId` (same transaction as the cause). */
export function noteKeyWanted(db: ServiceDb, transferId: string, kekId: string): void {
  db.prepare(
    "INSERT INTO cluster_key_wanted (transfer_id, kek_id) VALUES (?, ?) ON CONFLICT (transfer_id) DO UPDATE SET kek_id = excluded.kek_id",
  ).run(transferId, kekId);
}

/** Notes every key row not under `kekId` (the offline node applying a rotation). */
export function noteAllKeysWanted(db: ServiceDb, kekId: string): void {
  db.prepare(
    "INSERT INTO cluster_key_wanted (transfer_id, kek_id) SELECT transfer_id, ? FROM transfer_keys WHERE kek_id <> ? ON CONFLICT (transfer_id) DO UPDATE SET kek_id = excluded.kek_id",
  ).run(kekId, kekId);
}

/** Keys this node still has to fetch (monitoring, tests). */
export function wantedKeyCount(db: ServiceDb): number {
  return db.prepare<[], { n: number }>("SELECT count(*) AS n FROM cluster_key_wanted").get()?.n ?? 0;
}

/** The peer route answering this node's current `transfer_keys` row of a transfer. */
export function keyPeerRoute(db: ServiceDb): PeerRoute {
  return (req: IncomingMessage, res: ServerResponse) => {
    const id = KEY_PATH.exec(req.url ?? "")?.[1];
    if (!(req.url ?? "").startsWith(KEY_PEER_PREFIX)) return Promise.resolve(false);
    const send = (status: number, body: unknown): Promise<boolean> => {
      res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      return Promise.resolve(true);
    };
    if (req.method !== "GET" || id === undefined) return send(400, { code: "CLUSTER_PEER_REQUEST_INVALID" });
    const row = db
      .prepare<[string], { kek_id: string; wrapped_key: Buffer }>(
        "SELECT kek_id, wrapped_key FROM transfer_keys WHERE transfer_id = ?",
      )
      .get(id);
    if (row === undefined) return send(404, { code: "CLUSTER_PEER_REQUEST_INVALID" });
    return send(200, { kek: row.kek_id, wrapped: row.wrapped_key.toString("base64") });
  };
}

/** The peer's current key row of `transferId`, when it answers one in the expected shape. */
async function getKey(
  agent: https.Agent,
  peer: PeerEndpoint,
  transferId: string,
  timeoutMs: number,
): Promise<z.infer<typeof keyAnswer> | undefined> {
  const { status, answer } = await requestJson(
    agent,
    peer,
    "GET",
    `${KEY_PEER_PREFIX}${transferId}`,
    undefined,
    {
      timeoutMs,
      maxAnswerBytes: MAX_ANSWER_BYTES,
    },
  );
  if (status !== 200) return undefined;
  const parsed = keyAnswer.safeParse(answer);
  return parsed.success ? parsed.data : undefined;
}

export interface KeyRefetch {
  /** Runs one round now (resolves when it is done). */
  round(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Fetches the keys noted as wanted every `intervalMs`, each from the first online peer whose row is under
 * the wanted KEK id (and, with `kekPath`, unwraps under this node's KEK), stored in one IMMEDIATE
 * transaction that re-reads the note and the transfer's status.
 */
export function startKeyRefetch(o: {
  readonly db: ServiceDb;
  readonly tls: PeerTls;
  readonly self: string;
  readonly peers: readonly PeerEndpoint[];
  /** An online node's KEK file (answers are unwrapped under it); undefined on the offline node. */
  readonly kekPath?: string;
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
  readonly onError?: (error: unknown) => void;
}): KeyRefetch {
  const { db } = o;
  const agent = peerAgent(o.tls, 2);
  const peers = o.peers.filter((p) => p.name !== o.self);
  const state = { stopped: false };
  const isStopped = (): boolean => state.stopped;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const released = (id: string): boolean => {
    const s = db
      .prepare<[string], { status: string }>("SELECT status FROM transfers WHERE id = ?")
      .get(id)?.status;
    return s === undefined || s === "deleted" || s === "discarded";
  };
  const wantedKek = (id: string): string | undefined =>
    db
      .prepare<[string], { kek_id: string }>("SELECT kek_id FROM cluster_key_wanted WHERE transfer_id = ?")
      .get(id)?.kek_id;
  const drop = db.prepare<[string]>("DELETE FROM cluster_key_wanted WHERE transfer_id = ?");
  const store = db.prepare<[string, string, Buffer]>(
    "INSERT INTO transfer_keys (transfer_id, kek_id, wrapped_key) VALUES (?, ?, ?) ON CONFLICT (transfer_id) DO UPDATE SET kek_id = excluded.kek_id, wrapped_key = excluded.wrapped_key",
  );

  const proven = async (id: string, answer: z.infer<typeof keyAnswer>): Promise<boolean> => {
    if (o.kekPath === undefined) return true;
    const kek = await loadKek(o.kekPath);
    if (kek.id !== answer.kek) return false;
    try {
      kek.unwrap(Buffer.from(answer.wrapped, "base64"), id).fill(0);
      return true;
    } catch {
      return false;
    }
  };

  const fetchOne = async (id: string, kekId: string): Promise<void> => {
    for (const peer of peers) {
      if (isStopped()) return;
      let answer: z.infer<typeof keyAnswer> | undefined;
      try {
        answer = await getKey(agent, peer, id, o.timeoutMs ?? 5000);
      } catch {
        continue;
      }
      if (answer?.kek !== kekId || !(await proven(id, answer))) continue;
      const wrapped = Buffer.from(answer.wrapped, "base64");
      db.transaction(() => {
        if (released(id)) {
          drop.run(id);
          return;
        }
        // Another rotation noted a newer id meanwhile: this answer is stale, the next round asks again.
        if (wantedKek(id) !== kekId) return;
        store.run(id, kekId, wrapped);
        drop.run(id);
      }).immediate();
      return;
    }
  };

  const once = async (): Promise<void> => {
    const rows = db
      .prepare<[], { transfer_id: string; kek_id: string }>(
        "SELECT transfer_id, kek_id FROM cluster_key_wanted ORDER BY transfer_id LIMIT 64",
      )
      .all();
    for (const r of rows) {
      if (isStopped()) return;
      try {
        if (released(r.transfer_id)) drop.run(r.transfer_id);
        else await fetchOne(r.transfer_id, r.kek_id);
      } catch (error) {
        if (!isStopped()) o.onError?.(error);
      }
    }
  };
  const round = (): Promise<void> => {
    running ??= once().finally(() => {
      running = undefined;
    });
    return running;
  };
  const schedule = (): void => {
    if (isStopped()) return;
    timer = setTimeout(() => {
      void round().finally(schedule);
    }, o.intervalMs ?? 500);
    timer.unref();
  };
  schedule();
  return {
    round,
    async stop() {
      state.stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      await running?.catch(() => undefined);
      agent.destroy();
    },
  };
}
