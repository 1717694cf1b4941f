/**
 * Submitting commands to the ordered log. One etcd transaction creates, for every command of a *group*,
 * its id marker — only if that id was never seen — and one pending record holding the whole group, so a
 * node may retry a submission whose outcome it does not know (a timeout while an etcd member died)
 * without a command ever being ordered twice, and the sequencer takes a group as one record (one compare
 * and one delete in its batch transaction, however many commands it carries). etcd acknowledges the
 * transaction only once a majority of members has it in their fsynced Raft log.
 *
 *   ids/<command id>      the group's key (its first command's id): where its pending record was
 *   pending/<group key>   the group's commands, oldest first: a JSON array of their canonical texts
 *
 * A command is withdrawn (`command-ordering.ts`) by taking its id marker before it exists, or by
 * rewriting its group's record without it (compared by mod revision, so a batch that took the record
 * meanwhile fails its compare).
 */
import canonicalize from "canonicalize";
import type { Etcd3 } from "etcd3";
import { ClusterError } from "../errors.js";
import { checkCommand, MAX_BATCH_BYTES, type Command, type LogKeys } from "./command-batch.js";

/** A group's pending record: its commands' canonical texts as one JSON array (itself canonical). */
export function groupRecord(texts: readonly string[]): string {
  return `[${texts.join(",")}]`;
}

/**
 * The commands a pending record holds (a group's array; a record written before groups holds one
 * command object).
 * @throws ClusterError CLUSTER_LOG_ENTRY_INVALID (not a record of commands)
 */
export function parseGroupRecord(text: string): Command[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ClusterError("CLUSTER_LOG_ENTRY_INVALID", "保留コマンドが JSON ではありません", {}, { cause });
  }
  const list = Array.isArray(raw) ? (raw as unknown[]) : [raw];
  if (list.length === 0) {
    throw new ClusterError("CLUSTER_LOG_ENTRY_INVALID", "保留コマンドが空です", {});
  }
  return list.map((c) => checkCommand(c));
}

async function submitGroup(
  client: Etcd3,
  keys: LogKeys,
  group: readonly { readonly command: Command; readonly text: string }[],
  timeoutMs: number,
): Promise<boolean> {
  const groupKey = (group[0] as { command: Command }).command.id;
  let txn = client.if(keys.ids + groupKey, "Version", "==", 0);
  for (const w of group.slice(1)) txn = txn.and(keys.ids + w.command.id, "Version", "==", 0);
  const ops = [
    ...group.map((w) => client.put(keys.ids + w.command.id).value(groupKey)),
    client.put(keys.pending + groupKey).value(groupRecord(group.map((w) => w.text))),
  ];
  const result = await txn
    .then(...ops)
    .options({ deadline: Date.now() + timeoutMs })
    .commit();
  return result.succeeded;
}

const unavailable = (cause: unknown, context: Record<string, unknown> = {}): ClusterError =>
  new ClusterError("CLUSTER_UNAVAILABLE", "コマンドを etcd に登録できません", context, { cause });

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
    return (await submitGroup(client, keys, [{ command: c, text }], o.timeoutMs ?? 5000))
      ? "submitted"
      : "duplicate";
  } catch (cause) {
    throw unavailable(cause, { id: c.id });
  }
}

/** Bytes of commands one grouped submission carries at most (a batch always takes a whole group). */
const MAX_GROUP_BYTES = MAX_BATCH_BYTES - 64 * 1024;

/** A grouped submission needs one compare and one put per command, and one put more. */
function maxGroup(maxTxnOps: number): number {
  return Math.max(1, maxTxnOps - 4);
}

export interface GroupedSubmitter {
  /** Submits one command, grouped with others submitted meanwhile into one etcd transaction. */
  submit(command: Command): Promise<"submitted" | "duplicate">;
}

/**
 * Group commit for submissions: concurrent `submit` calls on one node are gathered into one create-only
 * transaction — as many as one transaction may carry; a group closes `maxDelayMs` after its first
 * command, or, while `maxInFlight` transactions are already out, when one of them comes back — so under
 * load the node pays one Raft round trip for many commands instead of many small ones. If the group's
 * transaction fails because one id was already submitted, every command of the group is submitted
 * again alone, so each still gets its own exact answer.
 */
export function createGroupedSubmitter(
  client: Etcd3,
  keys: LogKeys,
  o: {
    maxDelayMs?: number;
    maxCommands?: number;
    timeoutMs?: number;
    maxTxnOps?: number;
    maxInFlight?: number;
  } = {},
): GroupedSubmitter {
  const maxDelayMs = o.maxDelayMs ?? 2;
  const maxCommands = Math.min(o.maxCommands ?? 2000, maxGroup(o.maxTxnOps ?? 128));
  const timeoutMs = o.timeoutMs ?? 5000;
  const maxInFlight = Math.max(1, o.maxInFlight ?? 2);
  type Waiting = {
    command: Command;
    /** The command's canonical text (what the pending record holds), made once. */
    text: string;
    resolve: (r: "submitted" | "duplicate") => void;
    reject: (e: unknown) => void;
    promise: Promise<"submitted" | "duplicate">;
  };
  /** The group being gathered. */
  let open: Waiting[] = [];
  let openBytes = 0;
  /** The open group's delay has passed: it goes as soon as a transaction slot is free. */
  let due = false;
  let timer: NodeJS.Timeout | undefined;
  /** Closed groups waiting for a slot, oldest first. */
  const closed: Waiting[][] = [];
  let inFlight = 0;

  const send = async (group: Waiting[]): Promise<void> => {
    try {
      if (await submitGroup(client, keys, group, timeoutMs)) {
        for (const w of group) w.resolve("submitted");
        return;
      }
    } catch (cause) {
      const error = unavailable(cause);
      for (const w of group) w.reject(error);
      return;
    }
    if (group.length === 1) {
      (group[0] as Waiting).resolve("duplicate");
      return;
    }
    // Some id was already known: answer each exactly, one by one.
    for (const w of group) {
      await submitCommand(client, keys, w.command, { timeoutMs }).then(w.resolve, w.reject);
    }
  };

  const close = (): void => {
    if (open.length > 0) closed.push(open);
    open = [];
    openBytes = 0;
    due = false;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };

  const pump = (): void => {
    while (inFlight < maxInFlight) {
      if (closed.length === 0 && due) close();
      const group = closed.shift();
      if (group === undefined) return;
      inFlight++;
      void send(group).finally(() => {
        inFlight--;
        pump();
      });
    }
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
      const first = open.find((w) => w.command.id === checked.id);
      if (first !== undefined) return first.promise.then(() => "duplicate" as const);
      // One etcd request stays under its 1.5 MiB limit: a large command goes in a group of its own.
      const text = canonicalize(checked) ?? "";
      const bytes = Buffer.byteLength(text) + 1;
      if (open.length > 0 && openBytes + bytes > MAX_GROUP_BYTES) close();
      openBytes += bytes;
      const waiting = { command: checked, text } as Waiting;
      waiting.promise = new Promise<"submitted" | "duplicate">((resolve, reject) => {
        waiting.resolve = resolve;
        waiting.reject = reject;
      });
      open.push(waiting);
      if (open.length >= maxCommands) close();
      else
        timer ??= setTimeout(() => {
          timer = undefined;
          due = true;
          pump();
        }, maxDelayMs);
      pump();
      return waiting.promise;
    },
  };
}
