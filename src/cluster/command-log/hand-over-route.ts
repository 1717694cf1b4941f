/**
 * The peer route through which a node hands its commands to the sequencer directly (mutual TLS with
 * node certificates, `peer/peer-server.ts`):
 *
 *   POST /cluster/v1/log/commands   [command, …]
 *     → 200 {"answers": ["sequenced" | "duplicate" | "not-taken", …]}
 *
 * Each command must name the calling node as its origin (a node hands over only its own). The answer
 * comes once every command was decided by this node's sequencer: "sequenced" when a batch carrying it
 * committed, "duplicate" when its id was known already (its outcome is the earlier submission's),
 * "not-taken" otherwise — this node is not the leader (any more), or its batches failed — and the
 * origin then submits it as a pending record (`handed-commands.ts`). Bad input is refused with a coded
 * 4xx and changes nothing.
 */
import type { ServerResponse } from "node:http";
import type { ClusterErrorCode } from "../errors.js";
import { readBody, type PeerRoute } from "../peer/peer-server.js";
import { MAX_BATCH_BYTES, checkCommand, type Command } from "./command-batch.js";
import type { HandOverAnswer } from "./handed-commands.js";
import type { RunningSequencer } from "./sequencer.js";

export const HAND_OVER_PATH = "/cluster/v1/log/commands";
/** Commands one request carries at most. */
export const MAX_HANDED_PER_REQUEST = 1000;

function send(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  return true;
}

const refuse = (res: ServerResponse, status: number, code: ClusterErrorCode): true =>
  send(res, status, { code });

/** Parses a request body: the commands, or the code to refuse it with. */
function parseCommands(text: string, peer: string): Command[] | ClusterErrorCode {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return "CLUSTER_PEER_REQUEST_INVALID";
  }
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_HANDED_PER_REQUEST) {
    return "CLUSTER_PEER_REQUEST_INVALID";
  }
  const commands: Command[] = [];
  for (const item of raw as unknown[]) {
    let c: Command;
    try {
      c = checkCommand(item);
    } catch {
      return "CLUSTER_PEER_REQUEST_INVALID";
    }
    if (c.origin !== peer) return "CLUSTER_PEER_IDENTITY_INVALID";
    commands.push(c);
  }
  return commands;
}

export function handOverRoute(
  /** This node's sequencer (undefined: it runs none). */
  sequencer: () => Pick<RunningSequencer, "handOver"> | undefined,
): PeerRoute {
  return async (req, res, peer) => {
    if (new URL(req.url ?? "/", "https://peer.invalid").pathname !== HAND_OVER_PATH) return false;
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      return refuse(res, 405, "CLUSTER_PEER_REQUEST_INVALID");
    }
    const body = await readBody(req, MAX_BATCH_BYTES);
    const text = body === undefined ? undefined : Buffer.from(body).toString("utf8");
    if (text === undefined) return refuse(res, 413, "CLUSTER_PEER_REQUEST_INVALID");
    const commands = parseCommands(text, peer);
    if (typeof commands === "string") {
      return refuse(res, commands === "CLUSTER_PEER_IDENTITY_INVALID" ? 403 : 400, commands);
    }
    const s = sequencer();
    const answers: HandOverAnswer[] =
      s === undefined ? commands.map(() => "not-taken") : await s.handOver(commands);
    return send(res, 200, { answers });
  };
}
