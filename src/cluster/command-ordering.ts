/**
 * The origin side of the cluster's write port: a node's `append` becomes a command handed to the
 * sequencer directly (`command-log/hand-over.ts`: its batch transaction creates the id marker) or, when
 * that is not known to have ordered it — no sequencer known, unreachable, just changed, its batch failed
 * — submitted to the command log on etcd (create-only under the same id, grouped with other submissions,
 * `command-log/submit-command.ts`: a marker already there means a batch did order it), and the call waits until this node's own replica applied the batch
 * that ordered it (read-your-writes on the node that took the request).
 *
 * **A rejection means nothing was written.** A command the sequencer refused rejects with the refusing
 * error's code and message ({@link RefusedCommandError}). A command that was not ordered in time is
 * withdrawn first — its id marker taken, or it is taken out of its group's pending record, in an etcd
 * transaction, so it can never be ordered later — and only then rejected (`outcome: "not-written"`); if even that cannot be
 * decided (etcd unreachable), it rejects with CLUSTER_UNAVAILABLE and `outcome: "unknown"`.
 */
import { randomBytes } from "node:crypto";
import canonicalize from "canonicalize";
import { setTimeout as sleep } from "node:timers/promises";
import type { Etcd3 } from "etcd3";
import { CodedError } from "../coded-error.js";
import type { AppendResult } from "../ledger/write-port.js";
import type { Command, LogKeys, RefusedCommand } from "./command-log/command-batch.js";
import { DIRECT_MARKER, type HandOverAnswer } from "./command-log/handed-commands.js";
import { groupRecord, parseGroupRecord, type GroupedSubmitter } from "./command-log/submit-command.js";
import { ClusterError } from "./errors.js";
import type { AppliedBatch } from "./replicated-state.js";

/** A refusal decided by the sequencer, as the origin node raises it: the refusing error's code. */
export class RefusedCommandError extends CodedError {
  override readonly name: string;
  constructor(refused: RefusedCommand["error"]) {
    super(refused.code, refused.message, (refused.context ?? {}) as Record<string, unknown>);
    this.name = refused.name;
  }
}

interface Waiting {
  readonly resolve: (results: readonly AppendResult[]) => void;
  readonly reject: (error: unknown) => void;
}

/** How long an append waits to be ordered before it is withdrawn, unless told otherwise. */
const DEFAULT_APPEND_TIMEOUT_MS = 20_000;

export class CommandOrdering {
  readonly #client: Etcd3;
  readonly #keys: LogKeys;
  readonly #nodeName: string;
  readonly #submitter: GroupedSubmitter;
  readonly #handOver: ((command: Command) => Promise<HandOverAnswer>) | undefined;
  readonly #timeoutMs: number;
  readonly #waiting = new Map<string, Waiting>();

  constructor(o: {
    client: Etcd3;
    keys: LogKeys;
    nodeName: string;
    submitter: GroupedSubmitter;
    /** Hands a command to the sequencer directly (absent: every command goes the pending path). */
    handOver?: (command: Command) => Promise<HandOverAnswer>;
    appendTimeoutMs?: number;
  }) {
    this.#client = o.client;
    this.#keys = o.keys;
    this.#nodeName = o.nodeName;
    this.#submitter = o.submitter;
    this.#handOver = o.handOver;
    this.#timeoutMs = o.appendTimeoutMs ?? DEFAULT_APPEND_TIMEOUT_MS;
  }

  /** Submits a command and resolves once this node applied the batch that ordered it. */
  async order(body: unknown): Promise<readonly AppendResult[]> {
    const id = randomBytes(16).toString("base64url");
    const command: Command = { id, origin: this.#nodeName, body };
    const outcome = new Promise<readonly AppendResult[]>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
    });
    outcome.catch(() => undefined);
    const deadline = Date.now() + this.#timeoutMs;
    const handed = await this.#handOver?.(command).catch(() => "not-taken" as const);
    // Not known to be ordered: the pending path settles it (a batch that did order it left the marker).
    // A duplicate waits for the earlier submission's outcome, as a duplicate pending record does.
    if (handed !== "sequenced" && handed !== "duplicate") {
      const failed = await this.#submitPending(command, deadline);
      if (failed !== undefined) return this.#withdraw(id, outcome, failed.error);
    }
    const timer = sleep(Math.max(1000, deadline - Date.now())).then(() => "timeout" as const);
    const settled = await Promise.race([
      outcome.then(
        () => "done" as const,
        () => "done" as const,
      ),
      timer,
    ]);
    if (settled === "done") return outcome;
    return this.#withdraw(id, outcome, undefined);
  }

  /** Submits as a pending record, retrying while etcd is unavailable; the error it gave up on, if any. */
  async #submitPending(command: Command, deadline: number): Promise<{ error: unknown } | undefined> {
    for (;;) {
      try {
        await this.#submitter.submit(command);
        return undefined;
      } catch (error) {
        if (
          !(error instanceof ClusterError) ||
          error.code !== "CLUSTER_UNAVAILABLE" ||
          Date.now() > deadline
        ) {
          return { error };
        }
        await sleep(200);
      }
    }
  }

  /** After this node applied a batch: settles the calls that waited on its commands. */
  settle(applied: AppliedBatch, commands: readonly Command[]): void {
    for (const c of commands) {
      const w = this.#waiting.get(c.id);
      if (w === undefined) continue;
      this.#waiting.delete(c.id);
      w.resolve(applied.results.get(c.id) ?? []);
    }
    for (const r of applied.refused) {
      const w = this.#waiting.get(r.id);
      if (w === undefined) continue;
      this.#waiting.delete(r.id);
      w.reject(new RefusedCommandError(r.error));
    }
  }

  /** Rejects every call still waiting (the node closed, or its replica stopped). */
  failAll(error: unknown): void {
    for (const [id, w] of this.#waiting) {
      this.#waiting.delete(id);
      w.reject(error);
    }
  }

  /**
   * A command not ordered in time: make sure it never will be (id marker taken, or taken out of its
   * group's pending record), then reject; if it was ordered meanwhile, wait for its outcome after all.
   */
  async #withdraw(
    id: string,
    outcome: Promise<readonly AppendResult[]>,
    cause: unknown,
  ): Promise<readonly AppendResult[]> {
    let taken: "withdrawn" | "ordered";
    try {
      taken = await this.#takeBack(id);
    } catch (error) {
      this.#waiting.delete(id);
      throw new ClusterError(
        "CLUSTER_UNAVAILABLE",
        "クラスタが応答しないため記録できたか分かりません",
        { outcome: "unknown" },
        { cause: error },
      );
    }
    if (taken === "withdrawn") {
      this.#waiting.delete(id);
      throw new ClusterError(
        "CLUSTER_UNAVAILABLE",
        "クラスタが応答しないため記録できませんでした",
        { outcome: "not-written" },
        { cause },
      );
    }
    // Ordered: the batch is in etcd; this node applies it as soon as it follows the log again.
    const late = await Promise.race([
      outcome.then(
        () => "done" as const,
        () => "done" as const,
      ),
      sleep(60_000).then(() => "timeout" as const),
    ]);
    if (late === "done") return outcome;
    this.#waiting.delete(id);
    throw new ClusterError("CLUSTER_UNAVAILABLE", "記録の適用を確認できません", { outcome: "ordered" });
  }

  /**
   * Makes sure command `id` is never ordered: "withdrawn" when its id marker was taken before it
   * existed (never submitted) or it was taken out of its group's pending record (compared by mod
   * revision: a batch that took the record meanwhile fails its own compare); "ordered" when a batch had
   * already taken its record.
   * @throws when etcd does not answer
   */
  async #takeBack(id: string): Promise<"withdrawn" | "ordered"> {
    const c = this.#client;
    const deadline = { deadline: Date.now() + 5000 };
    const marker = await c
      .if(this.#keys.ids + id, "Version", "==", 0)
      .then(c.put(this.#keys.ids + id).value("withdrawn"))
      .options(deadline)
      .commit();
    if (marker.succeeded) return "withdrawn";
    // Submitted: its marker names its group's pending record.
    const marked = await c
      .get(this.#keys.ids + id)
      .options(deadline)
      .string();
    // Created by the batch that ordered it directly (`command-log/handed-commands.ts`).
    if (marked === DIRECT_MARKER) return "ordered";
    const groupKey = marked === null || marked === "" || marked === "withdrawn" ? id : marked;
    const key = this.#keys.pending + groupKey;
    for (let attempt = 0; attempt < 20; attempt++) {
      const read = await c.get(key).options(deadline).exec();
      const kv = read.kvs[0];
      if (kv === undefined) return "ordered";
      let rest: string[];
      try {
        const group = parseGroupRecord(kv.value.toString("utf8"));
        if (!group.some((x) => x.id === id)) return "ordered";
        rest = group.filter((x) => x.id !== id).map((x) => canonicalize(x) ?? "");
      } catch {
        // A damaged record is never ordered (the sequencer removes it).
        return "withdrawn";
      }
      const result = await c
        .if(key, "Mod", "==", kv.mod_revision)
        .then(rest.length === 0 ? c.delete().key(key) : c.put(key).value(groupRecord(rest)))
        .options(deadline)
        .commit();
      if (result.succeeded) return "withdrawn";
    }
    throw new Error("the group's pending record kept changing");
  }
}
