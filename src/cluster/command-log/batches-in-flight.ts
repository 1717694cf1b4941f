/**
 * The sequencer's bookkeeping while it leads (`sequencer.ts`): its view of the pending records, and the
 * batches it sent whose etcd transactions have not settled yet.
 *
 * - **Pending view.** The leader reads the pending records once when it starts leading (oldest first) and
 *   keeps the view current from its watch on the pending prefix. The view only proposes: each batch's
 *   transaction still compares every record's mod revision; on any doubt the view is marked stale and
 *   read again.
 * - **Batches in flight.** Each batch's transaction compares the head's *value* (the {seq, hash} of the
 *   batch it follows, known before that one commits), so batch n+1 is sent while batch n is agreed and
 *   fsynced. They are settled strictly in log order; a failed (or unknown) one ends the pipeline: the
 *   later ones are waited for (they fail their compare), the speculative head is forgotten and the view
 *   is marked stale.
 * - **Handed commands** (`handed-commands.ts`): a batch carrying commands handed to the sequencer directly
 *   also compares that each one's id marker does not exist and creates it, so a withdrawn or already
 *   submitted id makes the batch fail instead of ordering the command twice. After a failed compare the
 *   leader reads those markers (one read-only transaction, only then: a failure branch in every batch
 *   would be proposed through Raft and fsynced with each one): the handed commands known already are
 *   answered "duplicate" and the batch is not sent again unchanged; the others were not ordered (all or
 *   nothing) and are taken again by the next batch. A batch whose outcome is unknown answers its handed
 *   commands "not-taken" (the origin's pending path settles them); one that committed, "sequenced".
 */
import type { Etcd3, IKeyValue, IOperation } from "etcd3";
import { ClusterError } from "../errors.js";
import {
  GENESIS,
  batchHash,
  encodeBatch,
  type Command,
  type CommandBatch,
  type LogKeys,
  type LogPosition,
  type RefusedCommand,
} from "./command-batch.js";
import { DIRECT_MARKER, type HandOverAnswer } from "./handed-commands.js";

/** A batch this sequencer sent whose transaction it has not settled yet. */
export interface BatchInFlight {
  readonly batch: CommandBatch;
  readonly position: LogPosition;
}

export interface PreparedBatch {
  readonly accepted: readonly Command[];
  readonly refused: readonly RefusedCommand[];
  readonly checkpoint: boolean;
}

export interface Head {
  position: LogPosition;
  /** The head key's stored value, compared by the next batch's transaction (undefined: no head yet). */
  value: string | undefined;
}

export async function readHead(client: Etcd3, keys: LogKeys): Promise<Head> {
  const r = await client.get(keys.head).exec();
  const kv = r.kvs[0];
  if (kv === undefined) return { position: GENESIS, value: undefined };
  const value = kv.value.toString("utf8");
  const head = JSON.parse(value) as LogPosition;
  if (!Number.isSafeInteger(head.seq) || typeof head.hash !== "string") {
    throw new ClusterError("CLUSTER_LOG_ENTRY_INVALID", "コマンドログの head が正しくありません", {});
  }
  return { position: head, value };
}

interface PendingRecord {
  readonly value: Buffer;
  readonly mod: string;
}

/** A pending record the next batch takes: its key and the mod revision its transaction compares. */
export interface TakenRecord {
  readonly key: string;
  readonly mod: string;
}

/** The leader's view of the pending records, oldest first (insertion order = create revision order). */
export class PendingView {
  readonly records = new Map<string, PendingRecord>();
  /** Records a batch in flight takes (not proposed again unless that batch fails). */
  readonly taken = new Set<string>();
  /** Must be read again before it is used. */
  stale = true;

  reset(kvs: readonly IKeyValue[]): void {
    this.records.clear();
    this.taken.clear();
    for (const kv of kvs) this.put(kv);
    this.stale = false;
  }

  /** A put keeps the record's place (a key is created once; a later put only changes its value). */
  put(kv: IKeyValue): void {
    this.records.set(kv.key.toString("utf8"), { value: kv.value, mod: kv.mod_revision });
  }

  delete(key: string): void {
    this.records.delete(key);
    this.taken.delete(key);
  }

  first(limit: number): { key: string; value: Buffer; mod: string }[] {
    const out: { key: string; value: Buffer; mod: string }[] = [];
    for (const [key, r] of this.records) {
      if (out.length >= limit) break;
      if (this.taken.has(key)) continue;
      out.push({ key, value: r.value, mod: r.mod });
    }
    return out;
  }
}

/**
 * A sent batch: its transaction's outcome, settled in log order. `known`: after a failed compare, the ids
 * of its handed commands whose marker existed at that revision (never ordered by this batch).
 */
type Outcome = { succeeded: true } | { succeeded: false; known: ReadonlySet<string> } | { error: unknown };

/**
 * The handed commands of a failed batch whose id marker exists now. A marker is created only by a batch
 * carrying the command (this one failed, and no other carries it) or by another path (a pending record,
 * a withdrawal): one found is a duplicate for good. One not found yet may still appear before the next
 * batch; that batch then fails its compare and is read again. A failed read finds none (the commands are
 * tried again, a bounded number of times).
 */
async function knownMarkers(client: Etcd3, keys: LogKeys, direct: readonly string[]): Promise<Set<string>> {
  const known = new Set<string>();
  if (direct.length === 0) return known;
  const reads = (): IOperation[] => direct.map((id) => client.get(keys.ids + id));
  try {
    // Only ranges in both branches: etcd serves it as one linearizable read, not a Raft proposal;
    // whichever branch runs, its responses are the markers in `direct`'s order.
    const r = await client
      .if(keys.head, "Version", ">", 0)
      .then(...reads())
      .else(...reads())
      .options({ deadline: Date.now() + 5000 })
      .commit();
    direct.forEach((id, i) => {
      if ((r.responses[i]?.response_range.kvs.length ?? 0) > 0) known.add(id);
    });
  } catch {
    known.clear();
  }
  return known;
}

interface Sent extends BatchInFlight {
  readonly taken: readonly TakenRecord[];
  /** Ids of the handed commands this batch carries (their markers are created by its transaction). */
  readonly direct: readonly string[];
  readonly worthABatch: boolean;
  /** Sends the batch's transaction (again). */
  readonly commit: () => Promise<Outcome>;
  outcome: Promise<Outcome>;
  done: boolean;
  /** Sent a second time after its compare failed (see `settle`). */
  resent: boolean;
}

/** The batches one leader sent and has not settled, in log order, and the head the next one follows. */
export class BatchesInFlight {
  readonly #client: Etcd3;
  readonly #keys: LogKeys;
  readonly #campaignKey: string;
  readonly #view: PendingView;
  readonly #onAppend: (f: BatchInFlight) => void;
  readonly #onHanded: (ids: readonly string[], answer: HandOverAnswer | "again") => void;
  readonly #sent: Sent[] = [];
  /**
   * The head after the last batch sent: what the next batch follows (speculative until that batch's
   * transaction settles). Undefined: read it from etcd.
   */
  tip: Head | undefined;

  constructor(o: {
    client: Etcd3;
    keys: LogKeys;
    /** The leader's election key: every batch compares that it still exists. */
    campaignKey: string;
    view: PendingView;
    /** Called for each batch worth a log record once its transaction committed, in log order. */
    onAppend: (f: BatchInFlight) => void;
    /**
     * Called once for each handed command of a batch when it settled: its answer, or "again" when the
     * batch failed without ordering it (it waits for the next batch).
     */
    onHanded?: (ids: readonly string[], answer: HandOverAnswer | "again") => void;
  }) {
    this.#client = o.client;
    this.#keys = o.keys;
    this.#campaignKey = o.campaignKey;
    this.#view = o.view;
    this.#onAppend = o.onAppend;
    this.#onHanded = o.onHanded ?? (() => undefined);
  }

  get count(): number {
    return this.#sent.length;
  }

  /** The oldest batch's outcome (undefined: none in flight). */
  get oldest(): Promise<unknown> | undefined {
    return this.#sent[0]?.outcome;
  }

  /** The batches in flight, in log order (what the state machine runs first when judging the next). */
  ahead(): BatchInFlight[] {
    return this.#sent.map((f) => ({ batch: f.batch, position: f.position }));
  }

  /**
   * Settles, in log order, the batches whose transaction finished. A batch that failed (or whose
   * outcome is unknown) ends the pipeline: the later ones follow it, so all are waited for, the
   * speculative head is forgotten and the pending records are read again.
   *
   * Except once: etcd does not keep the order in which one client sends transactions (they may go
   * through different members, and one member serves concurrent requests concurrently), so batch n+1
   * can reach the Raft leader before batch n and fail its head compare although nothing is wrong. A
   * batch that failed its compare while every batch before it committed is therefore sent once more,
   * unchanged: the same compares decide again (a head value names one batch of the chain and is never
   * seen twice, so it commits at most once), and only a second failure ends the pipeline — unless one
   * of its handed commands was known already: that compare fails again whatever the order.
   */
  async settle(): Promise<void> {
    for (let f = this.#sent[0]; f?.done === true; f = this.#sent[0]) {
      const r = await f.outcome;
      if ("succeeded" in r && !r.succeeded && r.known.size === 0 && !f.resent) {
        f.resent = true;
        f.done = false;
        f.outcome = f.commit();
        void f.outcome.then(() => {
          f.done = true;
        });
        return;
      }
      this.#sent.shift();
      if ("error" in r || !r.succeeded) {
        this.#view.stale = true;
        this.tip = undefined;
        const later = this.#sent.splice(0);
        const outcomes = [r, ...(await Promise.all(later.map((l) => l.outcome)))];
        [f, ...later].forEach((l, i) => {
          this.#answerFailed(l.direct, outcomes[i] ?? { error: undefined });
        });
        if ("error" in r) throw r.error;
        return;
      }
      for (const t of f.taken) this.#view.delete(t.key);
      if (f.worthABatch) this.#onAppend(f);
      this.#onHanded(f.direct, "sequenced");
    }
  }

  /**
   * The handed commands of a batch that did not settle as committed in order. After a failed compare
   * nothing of it was written: the known ones are duplicates, the rest wait for the next batch. After
   * an error (outcome unknown) — or a commit that followed a batch not known to have committed, which
   * the pipeline cannot account for — they are not known to be ordered by this leader: their origins
   * settle it through the pending path.
   */
  #answerFailed(direct: readonly string[], r: Outcome): void {
    if (!("succeeded" in r) || r.succeeded) {
      this.#onHanded(direct, "not-taken");
      return;
    }
    this.#onHanded(
      direct.filter((id) => r.known.has(id)),
      "duplicate",
    );
    this.#onHanded(
      direct.filter((id) => !r.known.has(id)),
      "again",
    );
  }

  /** Waits for every batch in flight and settles them. */
  async drain(): Promise<void> {
    // A batch sent again (settle) is in flight once more: wait for it too.
    while (this.#sent.length > 0) {
      await Promise.all(this.#sent.map((f) => f.outcome));
      await this.settle();
    }
  }

  /**
   * Sends one all-or-nothing etcd transaction: the batch, the new head, the pending records removed, the
   * handed commands' id markers created (`direct`: their ids, each accepted or refused by `prepared`).
   */
  send(
    head: Head,
    prepared: PreparedBatch,
    taken: readonly TakenRecord[],
    direct: readonly string[] = [],
  ): void {
    const client = this.#client;
    const keys = this.#keys;
    const seq = head.position.seq + 1;
    const batch = {
      seq,
      prev: head.position.hash,
      commands: prepared.accepted,
      ...(prepared.refused.length > 0 ? { refused: prepared.refused } : {}),
      ...(prepared.checkpoint ? { checkpoint: true as const } : {}),
    };
    const encoded = encodeBatch(batch);
    const position = { seq, hash: batchHash(encoded) };
    const value = JSON.stringify(position);
    const worthABatch = batch.commands.length > 0 || prepared.refused.length > 0 || prepared.checkpoint;
    if (!worthABatch && taken.length === 0) return;
    const commit = (): Promise<Outcome> => {
      let txn =
        head.value === undefined
          ? client.if(keys.head, "Version", "==", 0)
          : client.if(keys.head, "Value", "==", head.value);
      txn = txn.and(this.#campaignKey, "Create", ">", 0);
      for (const t of taken) txn = txn.and(t.key, "Mod", "==", t.mod);
      for (const id of direct) txn = txn.and(keys.ids + id, "Version", "==", 0);
      const ops = [
        ...(worthABatch
          ? [client.put(keys.logKey(seq)).value(encoded), client.put(keys.head).value(value)]
          : []),
        ...taken.map((t) => client.delete().key(t.key)),
        ...direct.map((id) => client.put(keys.ids + id).value(DIRECT_MARKER)),
      ];
      return txn
        .then(...ops)
        .commit()
        .then(
          async (result): Promise<Outcome> =>
            result.succeeded
              ? { succeeded: true }
              : { succeeded: false, known: await knownMarkers(client, keys, direct) },
          (error: unknown) => ({ error }),
        );
    };
    for (const t of taken) this.#view.taken.add(t.key);
    const sent: Sent = {
      batch,
      position,
      taken,
      direct,
      worthABatch,
      commit,
      outcome: commit(),
      done: false,
      resent: false,
    };
    void sent.outcome.then(() => {
      sent.done = true;
    });
    this.#sent.push(sent);
    if (worthABatch) this.tip = { position, value };
  }
}
