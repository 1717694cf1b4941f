/**
 * What a node answers a peer that is localising and repairing damage in its own copy (peer endpoint,
 * mutual TLS with node certificates — `peer/peer-server.ts`):
 *
 *   POST /cluster/v1/ledger/range-hashes   {size, ranges: [[from, to], …]} → {hashes: [hex, …]}
 *        RFC 9162 MTH of each range of the tree of `size`, from this node's stored nodes (O(log n) each),
 *        so a peer finds its bad entries by bisection without the log being shipped;
 *   POST /cluster/v1/ledger/proven-entries {size, indices: […]} → {treeSize, entries, recordHashes}
 *        each entry as stored (parsed JSON, as trails carry it) with its inclusion proof under `size`,
 *        and a conversion entry's record hashes;
 *   GET  /cluster/v1/ledger/checkpoints/<size>  → {note} the log-signed checkpoint stored for that size;
 *   GET  /cluster/v1/state/transfers/<id>      → {row} the service.db transfer row;
 *   GET  /cluster/v1/state/damage/<id>         → {row} its `transfer_damage` row (damage-rows.ts).
 *
 * Nothing here is trusted by the caller because a peer said it: entries are proven against the
 * quorum-published checkpoint with the verifier the CLI and browser use, rows against what the proven
 * entries commit to, checkpoints by the log key and the recomputed root. Every request is bounded.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type Database from "better-sqlite3";
import { z } from "zod";
import type { LogStorage } from "../../ledger/log-storage.js";
import { nodeHasher } from "../../ledger/node-hasher.js";
import { buildInclusionProof, rangeHash } from "../../ledger/proof-builder.js";
import { toHex } from "../../ledger/verify/encoding.js";
import { readTransferRow } from "../../store/transfer-rows.js";
import type { PeerRoute } from "../peer/peer-server.js";
import { readDamageRow } from "./damage-rows.js";

export const LEDGER_PEER_PREFIX = "/cluster/v1/ledger/";
export const STATE_PEER_PREFIX = "/cluster/v1/state/";
/** Ranges per range-hashes request, entries per proven-entries request. */
export const MAX_RANGES = 1024;
export const MAX_ENTRIES = 256;
const MAX_BODY = 64 * 1024;

export interface LedgerPeerSource {
  readonly storage: LogStorage;
  readonly serviceDb?: Database.Database | undefined;
}

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const rangesBody = z
  .object({
    size: count,
    ranges: z
      .array(z.tuple([count, count]))
      .min(1)
      .max(MAX_RANGES),
  })
  .strict();
const entriesBody = z.object({ size: count, indices: z.array(count).min(1).max(MAX_ENTRIES) }).strict();
const TRANSFER_ID = /^[A-Za-z0-9_-]{1,200}$/;

function json(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  return true;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > MAX_BODY) return undefined;
    parts.push(part);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

const invalid = (res: ServerResponse): true => json(res, 400, { code: "CLUSTER_PEER_REQUEST_INVALID" });

/** The peer routes over this node's copy; `source()` is read per request (the node may reopen it). */
export function ledgerPeerRoutes(source: () => LedgerPeerSource): PeerRoute {
  return async (req, res) => {
    const url = req.url ?? "";
    if (!url.startsWith(LEDGER_PEER_PREFIX) && !url.startsWith(STATE_PEER_PREFIX)) return false;
    const { storage, serviceDb } = source();
    const stored = storage.size();
    if (req.method === "POST" && url === `${LEDGER_PEER_PREFIX}range-hashes`) {
      const body = rangesBody.safeParse(await readJson(req));
      if (!body.success || body.data.size > stored) return invalid(res);
      const { size, ranges } = body.data;
      if (ranges.some(([from, to]) => from >= to || to > size)) return invalid(res);
      const hashes = ranges.map(([from, to]) => toHex(rangeHash(storage, nodeHasher, from, to)));
      return json(res, 200, { hashes });
    }
    if (req.method === "POST" && url === `${LEDGER_PEER_PREFIX}proven-entries`) {
      const body = entriesBody.safeParse(await readJson(req));
      if (!body.success || body.data.size > stored) return invalid(res);
      const { size, indices } = body.data;
      if (indices.some((i) => i >= size)) return invalid(res);
      const decoder = new TextDecoder();
      const recordHashes: Record<string, string[]> = {};
      const entries = indices.map((index) => {
        const e = storage.entry(index);
        const hashes = storage.recordHashes(index);
        if (hashes.length > 0) recordHashes[String(index)] = hashes.map(toHex);
        return {
          index,
          leafHash: toHex(e.leafHash),
          entry: JSON.parse(decoder.decode(e.entry)) as unknown,
          proof: buildInclusionProof(storage, nodeHasher, index, size).map(toHex),
        };
      });
      return json(res, 200, { treeSize: size, entries, recordHashes });
    }
    const checkpointSize = /^\/cluster\/v1\/ledger\/checkpoints\/(0|[1-9][0-9]{0,15})$/.exec(url)?.[1];
    if (req.method === "GET" && checkpointSize !== undefined) {
      const size = Number(checkpointSize);
      for (const cp of storage.scanCheckpoints()) {
        if (cp.size === size) return json(res, 200, { note: cp.note });
      }
      return json(res, 404, { code: "CLUSTER_PEER_REQUEST_INVALID" });
    }
    const transfer = url.startsWith(`${STATE_PEER_PREFIX}transfers/`)
      ? url.slice(`${STATE_PEER_PREFIX}transfers/`.length)
      : undefined;
    if (req.method === "GET" && transfer !== undefined && TRANSFER_ID.test(transfer)) {
      const row = serviceDb === undefined ? undefined : readTransferRow(serviceDb, transfer);
      return row === undefined
        ? json(res, 404, { code: "CLUSTER_PEER_REQUEST_INVALID" })
        : json(res, 200, { row });
    }
    const damaged = url.startsWith(`${STATE_PEER_PREFIX}damage/`)
      ? url.slice(`${STATE_PEER_PREFIX}damage/`.length)
      : undefined;
    if (req.method === "GET" && damaged !== undefined && TRANSFER_ID.test(damaged)) {
      const row = serviceDb === undefined ? undefined : readDamageRow(serviceDb, damaged);
      return row === undefined
        ? json(res, 404, { code: "CLUSTER_PEER_REQUEST_INVALID" })
        : json(res, 200, { row });
    }
    return invalid(res);
  };
}
