/**
 * Trimming the command log: batches every listed node has applied may be deleted from etcd (keeping a
 * margin), so etcd's database stays small. A node that was down longer than the margin then finds its
 * next batch gone (CLUSTER_LOG_TRIMMED) and must catch up from a peer.
 */
import { Range, type Etcd3 } from "etcd3";
import { ClusterError } from "../errors.js";
import type { LogKeys } from "./command-batch.js";

/** The lowest seq every one of `nodes` reports as applied (0 when one has not reported). */
export async function appliedHorizon(
  client: Etcd3,
  keys: LogKeys,
  nodes: readonly string[],
): Promise<number> {
  let horizon = Number.MAX_SAFE_INTEGER;
  for (const node of nodes) {
    const text = await client.get(keys.applied + node).string();
    const seq = text === null ? 0 : Number(text);
    horizon = Math.min(horizon, Number.isSafeInteger(seq) && seq >= 0 ? seq : 0);
  }
  return nodes.length === 0 ? 0 : horizon;
}

/**
 * Deletes batches with seq < `below`, refusing to go past what every node in `nodes` applied.
 * @returns the number of batches deleted
 * @throws ClusterError CLUSTER_OPTION_INVALID when `below` is beyond the horizon
 */
export async function trimLog(
  client: Etcd3,
  keys: LogKeys,
  o: { below: number; nodes: readonly string[] },
): Promise<number> {
  const horizon = await appliedHorizon(client, keys, o.nodes);
  if (!Number.isSafeInteger(o.below) || o.below < 1 || o.below > horizon + 1) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "まだ適用していないノードがあるため削除できません", {
      below: o.below,
      horizon,
    });
  }
  const r = await client
    .delete()
    .inRange(new Range(keys.logKey(0), keys.logKey(o.below)))
    .exec();
  return Number(r.deleted);
}
