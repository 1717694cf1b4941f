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

/** Bytes of commands one grouped submission carries at most. */
const MAX_GROUP_BYTES = 1024 * 1024;

/** A grouped submission needs one compare and two puts per command; etcd's default --max-txn-ops is 128. */
function maxGroup(maxTxnOps: number): number {
  return Math.max(1, Math.floor((maxTxnOps - 4) / 2));
}

export interface GroupedSubmitter {
  /** Submits one command, grouped with others submitted within `maxDelayMs` into one etcd transaction. */
  submit(command: Command): Promise<"submitted" | "duplicate">;
}

/**
 * Group commit for submissions: concurrent `submit` calls on one node are gathered (as many as one etcd
 * transaction may carry, or for `maxDelayMs` after the first) and written as one create-only
 * transaction, so the node pays one Raft round trip for many commands. If the group's transaction fails
 * because one id was already submitted, every command of the group is retried alone, so each still gets
 * its own exact answer.
 */
export function createGroupedSubmitter(
  client: Etcd3,
  keys: LogKeys,
  o: { maxDelayMs?: number; maxCommands?: number; timeoutMs?: number; maxTxnOps?: number } = {},
): GroupedSubmitter {
  const maxDelayMs = o.maxDelayMs ?? 2;
  const maxCommands = Math.min(o.maxCommands ?? 500, maxGroup(o.maxTxnOps ?? 128));
  const timeoutMs = o.timeoutMs ?? 5000;
  type Waiting = {
    command: Command;
    /** The command's canonical text (what the pending record holds), made once. */
    text: string;
    resolve: (r: "submitted" | "duplicate") => void;
    reject: (e: unknown) => void;
    promise: Promise<"submitted" | "duplicate">;
  };
  let group: Waiting[] = [];
  let groupBytes = 0;
  let timer: NodeJS.Timeout | undefined;

  const flush = (): void => {
    const batch = group;
    group = [];
    groupBytes = 0;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (batch.length === 0) return;
    void (async () => {
      if (batch.length === 1) {
        const [only] = batch as [Waiting];
        await submitCommand(client, keys, only.command, { timeoutMs }).then(only.resolve, only.reject);
        return;
      }
      let txn = client.if(keys.ids + (batch[0] as Waiting).command.id, "Version", "==", 0);
      for (const w of batch.slice(1)) txn = txn.and(keys.ids + w.command.id, "Version", "==", 0);
      const ops = batch.flatMap((w) => [
        client.put(keys.ids + w.command.id).value(""),
        client.put(keys.pending + w.command.id).value(w.text),
      ]);
      try {
        const result = await txn
          .then(...ops)
          .options({ deadline: Date.now() + timeoutMs })
          .commit();
        if (result.succeeded) {
          for (const w of batch) w.resolve("submitted");
          return;
        }
      } catch (cause) {
        const error = new ClusterError(
          "CLUSTER_UNAVAILABLE",
          "コマンドを etcd に登録できません",
          {},
          { cause },
        );
        for (const w of batch) w.reject(error);
        return;
      }
      // Some id was already known: answer each exactly, one by one.
      for (const w of batch) {
        await submitCommand(client, keys, w.command, { timeoutMs }).then(w.resolve, w.reject);
      }
    })();
  };

  return {
    submit(command) {
      let checked: Command;
      try {
        checked = checkCommand(command);
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      // The same id twice in one group: the second is a duplicate of the first, whatever happens to it.
      const first = group.find((w) => w.command.id === checked.id);
      if (first !== undefined) return first.promise.then(() => "duplicate" as const);
      // One etcd request stays under its 1.5 MiB limit: a large command goes in a group of its own.
      const text = canonicalize(checked) ?? "";
      const bytes = Buffer.byteLength(text);
      if (group.length > 0 && groupBytes + bytes > MAX_GROUP_BYTES) flush();
      groupBytes += bytes;
      const waiting = { command: checked, text } as Waiting;
      waiting.promise = new Promise<"submitted" | "duplicate">((resolve, reject) => {
        waiting.resolve = resolve;
        waiting.reject = reject;
      });
      group.push(waiting);
      if (group.length >= maxCommands) flush();
      else timer ??= setTimeout(flush, maxDelayMs);
      return waiting.promise;
    },
  };
}
