/**
 * Submitting a command to the ordered log: one etcd transaction that creates the command's id marker and
 * its pending record only if the id was never seen, so a node may retry a submission whose outcome it
 * does not know (a timeout while an etcd member died) without the command ever being ordered twice.
 * etcd acknowledges the transaction only once a majority of members has it in their fsynced Raft log.
 */
import canonicalize from "canonicalize";
import type { Etcd3 } from "etcd3";
import { ClusterError } from "../errors.js";
import { checkCommand, type Command, type LogKeys } from "./command-batch.js";

/**
 * @returns "submitted" when this call created it, "duplicate" when the id was already submitted
 * @throws ClusterError CLUSTER_LOG_ENTRY_INVALID, CLUSTER_UNAVAILABLE (etcd did not answer in time; the
 *   outcome is unknown and the same command may be submitted again)
 */
export async function submitCommand(
  client: Etcd3,
  keys: LogKeys,
  command: Command,
  o: { timeoutMs?: number } = {},
): Promise<"submitted" | "duplicate"> {
  const c = checkCommand(command);
  const text = canonicalize(c) ?? "";
  try {
    const result = await client
      .if(keys.ids + c.id, "Version", "==", 0)
      .then(client.put(keys.ids + c.id).value(""), client.put(keys.pending + c.id).value(text))
      .options({ deadline: Date.now() + (o.timeoutMs ?? 5000) })
      .commit();
    return result.succeeded ? "submitted" : "duplicate";
  } catch (cause) {
    throw new ClusterError(
      "CLUSTER_UNAVAILABLE",
      "コマンドを etcd に登録できません",
      { id: c.id },
      { cause },
    );
  }
}
