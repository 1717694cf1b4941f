/**
 * The sequencer: the one node, elected through etcd (its election recipe: a lease per candidate, the
 * lowest-revision key leads), that moves pending commands into the log in batches. Each append is one
 * etcd transaction that
 *   - compares the head key's mod revision with the one it read (nobody appended since),
 *   - compares that its own election key still exists (its lease has not expired: a sequencer that lost
 *     leadership cannot append, even if it does not know yet),
 *   - compares each pending command's mod revision (it is still pending),
 * and then writes log/<seq>, the new head, and deletes the pending records — all or nothing. So a
 * sequencer killed at any point leaves either the whole batch or none of it, and its successor (elected
 * once the dead one's lease runs out, seconds) continues from the head it reads: no command lost,
 * duplicated or reordered. No home-made consensus: ordering and election are etcd's.
 *
 * **Several batches in flight.** The leader does not wait for a batch's transaction before it forms the
 * next one: each batch compares the head's *value* — the {seq, hash} of the batch it follows, known
 * before that batch commits — so batch n+1 can be sent while batch n is still being agreed and fsynced,
 * and it commits only if batch n did (a failed or lost batch n makes every later one fail its compare,
 * since a head value names one batch of one hash chain, never seen twice). The state machine judges
 * batch n+1 against its state with the batches still in flight run first (`PrepareBatch`'s `ahead`).
 * Transactions are settled strictly in log order; on any failure the leader waits for the rest, forgets
 * its speculative head and reads the head and the pending records from etcd again.
 *
 * The leader does not read the pending records back for every batch: it reads them once when it starts
 * leading (oldest first) and keeps that view current from its watch on the pending prefix, started at
 * the read's revision (a range sorted by create revision makes etcd read and sort *every* pending record,
 * which under a backlog cost more than the batch itself). The view only proposes: each batch's
 * transaction still compares every record's mod revision, and on any doubt — a watch error or
 * reconnection, a failed transaction — the leader reads the records again.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Etcd3, IKeyValue, Watcher } from "etcd3";
import { ClusterError } from "../errors.js";
import {
  GENESIS,
  MAX_BATCH_BYTES,
  batchHash,
  checkCommand,
  encodeBatch,
  type Command,
  type CommandBatch,
  type LogKeys,
  type LogPosition,
  type RefusedCommand,
} from "./command-batch.js";
import { standForElection, type Candidacy } from "./sequencer-election.js";

/**
 * What the state machine makes of the commands about to be ordered after `head`: the ones it accepts
 * (in order), the ones whose preconditions fail (refused: recorded so the origin learns, applied
 * nowhere), and whether the batch carries a checkpoint. `undefined`: not now (the state is not at
 * `head` yet); the sequencer looks again.
 */
export type PrepareBatch = (
  head: LogPosition,
  commands: readonly Command[],
  /** The batches written but not settled yet, in log order; the last one ends at `head`. */
  ahead: readonly BatchInFlight[],
) => Promise<PreparedBatch | undefined>;

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

/** etcd's default --max-txn-ops. A batch of n commands needs 2 + n compares and 2 + n operations. */
export const ETCD_DEFAULT_MAX_TXN_OPS = 128;

export interface SequencerOptions {
  readonly client: Etcd3;
  readonly keys: LogKeys;
  readonly nodeName: string;
  /** Election lease TTL: how long a dead sequencer keeps the role. */
  readonly leaseTtlSeconds?: number;
  readonly maxBatch?: number;
  /** The cluster's etcd --max-txn-ops (default 128); bounds the batch size. */
  readonly maxTxnOps?: number;
  /** How many batches may be in flight (sent, not settled) at once; 1 waits for each (default 3). */
  readonly maxInFlight?: number;
  /** Longest pause between looks at the pending records when no watch event arrives. */
  readonly idleWaitMs?: number;
  readonly onError?: (error: unknown) => void;
  /** Called after each batch this sequencer appended (committed in etcd), with the batch itself. */
  readonly onAppend?: (position: LogPosition, commands: number, batch: CommandBatch) => void;
  /** The state machine's check of a batch before it is written (default: every command accepted). */
  readonly prepare?: PrepareBatch;
  /** With nothing pending: whether to write an empty batch carrying a checkpoint (default: never). */
  readonly idleCheckpoint?: (head: LogPosition) => boolean;
}

export interface RunningSequencer {
  isLeader(): boolean;
  /** Batches this process appended. */
  appended(): number;
  stop(): Promise<void>;
}

interface Head {
  position: LogPosition;
  /** The head key's stored value, compared by the next batch's transaction (undefined: no head yet). */
  value: string | undefined;
}

async function readHead(client: Etcd3, keys: LogKeys): Promise<Head> {
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

/** The leader's view of the pending records, oldest first (insertion order = create revision order). */
class PendingView {
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

/** A sent batch: its transaction's outcome, settled in log order. */
interface Sent extends BatchInFlight {
  readonly taken: readonly { key: string; mod: string }[];
  readonly worthABatch: boolean;
  readonly outcome: Promise<{ succeeded: boolean } | { error: unknown }>;
  done: boolean;
}

export function startSequencer(o: SequencerOptions): RunningSequencer {
  const maxBatch = Math.max(1, Math.min(o.maxBatch ?? 1000, (o.maxTxnOps ?? ETCD_DEFAULT_MAX_TXN_OPS) - 8));
  const maxInFlight = Math.max(1, o.maxInFlight ?? 3);
  const idleWaitMs = o.idleWaitMs ?? 500;
  const onError = o.onError ?? (() => undefined);
  // The prefix `Etcd3.election(name)` reads (cluster-status names the sequencer from it).
  const electionPrefix = `election/${o.keys.election}/`;
  const ttlSeconds = o.leaseTtlSeconds ?? 3;
  let stopped = false;
  let current: Candidacy | undefined;
  let leader = false;
  let appended = 0;
  let loop: Promise<void> = Promise.resolve();

  const lead = async (campaign: Candidacy): Promise<void> => {
    const campaignKey = await campaign.key();
    let watcher: Watcher | undefined;
    const wake: { promise: Promise<void>; signal: () => void } = {
      promise: Promise.resolve(),
      signal: () => undefined,
    };
    const rearm = (): void => {
      wake.promise = new Promise<void>((resolve) => {
        wake.signal = resolve;
      });
    };
    const view = new PendingView();
    /** Batches sent and not settled yet, in log order. */
    const inFlight: Sent[] = [];
    /**
     * The head after the last batch sent: what the next batch follows (speculative until that batch's
     * transaction settles). Undefined: read it from etcd.
     */
    let tip: Head | undefined;

    /** Reads every pending record (oldest first) and watches the prefix from just after that read. */
    const resync = async (): Promise<void> => {
      await watcher?.cancel().catch(() => undefined);
      watcher = undefined;
      const read = await o.client.getAll().prefix(o.keys.pending).sort("Create", "Ascend").exec();
      const w = await o.client
        .watch()
        .prefix(o.keys.pending)
        .startRevision((BigInt(read.header.revision) + 1n).toString())
        .create();
      w.on("put", (kv) => {
        view.put(kv);
        wake.signal();
      });
      w.on("delete", (kv) => {
        view.delete(kv.key.toString("utf8"));
      });
      const lost = (): void => {
        view.stale = true;
        wake.signal();
      };
      w.on("error", lost);
      w.on("disconnected", lost);
      watcher = w;
      view.reset(read.kvs);
    };

    /**
     * Settles, in log order, the batches whose transaction finished. A batch that failed (or whose
     * outcome is unknown) ends the pipeline: the later ones follow it, so all are waited for, the
     * speculative head is forgotten and the pending records are read again.
     */
    const settle = async (): Promise<void> => {
      for (let f = inFlight[0]; f?.done === true; f = inFlight[0]) {
        inFlight.shift();
        const r = await f.outcome;
        if ("error" in r || !r.succeeded) {
          view.stale = true;
          tip = undefined;
          await Promise.all(inFlight.splice(0).map((later) => later.outcome));
          if ("error" in r) throw r.error;
          return;
        }
        for (const t of f.taken) view.delete(t.key);
        if (f.worthABatch) {
          appended++;
          o.onAppend?.(f.position, f.batch.commands.length, f.batch);
        }
      }
    };

    /** Waits for every batch in flight and settles them. */
    const drain = async (): Promise<void> => {
      await Promise.all(inFlight.map((f) => f.outcome));
      await settle();
    };

    /** Sends one all-or-nothing etcd transaction: the batch, the new head, the pending records removed. */
    const send = (
      head: Head,
      prepared: PreparedBatch,
      taken: readonly { key: string; mod: string }[],
    ): void => {
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
      let txn =
        head.value === undefined
          ? o.client.if(o.keys.head, "Version", "==", 0)
          : o.client.if(o.keys.head, "Value", "==", head.value);
      txn = txn.and(campaignKey, "Create", ">", 0);
      for (const t of taken) txn = txn.and(t.key, "Mod", "==", t.mod);
      const worthABatch = batch.commands.length > 0 || prepared.refused.length > 0 || prepared.checkpoint;
      const ops = [
        ...(worthABatch
          ? [o.client.put(o.keys.logKey(seq)).value(encoded), o.client.put(o.keys.head).value(value)]
          : []),
        ...taken.map((t) => o.client.delete().key(t.key)),
      ];
      if (ops.length === 0) return;
      for (const t of taken) view.taken.add(t.key);
      const sent: Sent = {
        batch,
        position,
        taken,
        worthABatch,
        outcome: txn
          .then(...ops)
          .commit()
          .then(
            (result) => ({ succeeded: result.succeeded }),
            (error: unknown) => ({ error }),
          ),
        done: false,
      };
      void sent.outcome.then(() => {
        sent.done = true;
      });
      inFlight.push(sent);
      if (worthABatch) tip = { position, value };
    };

    /** Forms and sends the next batch after the tip: "sent", "idle" (nothing to send) or "not-now". */
    const sendNext = async (): Promise<"sent" | "idle" | "not-now"> => {
      const head = tip ?? (await readHead(o.client, o.keys));
      tip = head;
      const pending = view.first(maxBatch);
      if (pending.length === 0) {
        if (inFlight.length === 0 && o.idleCheckpoint?.(head.position) === true) {
          send(head, { accepted: [], refused: [], checkpoint: true }, []);
          return "sent";
        }
        return "idle";
      }
      const commands: Command[] = [];
      const taken: { key: string; mod: string }[] = [];
      const dropped: string[] = [];
      let size = 0;
      for (const kv of pending) {
        const key = kv.key;
        let command: Command;
        try {
          command = checkCommand(JSON.parse(kv.value.toString("utf8")));
        } catch {
          // Not a command (a damaged record): removed with the batch, never ordered.
          dropped.push(key);
          taken.push({ key, mod: kv.mod });
          continue;
        }
        size += kv.value.length + 1;
        if (commands.length > 0 && size > MAX_BATCH_BYTES - 1024) break;
        commands.push(command);
        taken.push({ key, mod: kv.mod });
      }
      if (dropped.length > 0)
        onError(
          new ClusterError("CLUSTER_LOG_ENTRY_INVALID", "不正な保留コマンドを除きました", {
            count: dropped.length,
          }),
        );
      const ahead = inFlight.map((f) => ({ batch: f.batch, position: f.position }));
      const prepared =
        o.prepare === undefined
          ? { accepted: commands, refused: [], checkpoint: false }
          : await o.prepare(head.position, commands, ahead);
      if (prepared === undefined) return "not-now";
      // A command the state machine neither accepted nor refused stays pending for the next batch.
      const decided = new Set([...prepared.accepted, ...prepared.refused].map((c) => o.keys.pending + c.id));
      send(
        head,
        prepared,
        taken.filter((t) => decided.has(t.key) || dropped.includes(t.key)),
      );
      return "sent";
    };

    try {
      while (!stopped && leader && current === campaign) {
        try {
          // Re-armed before the pending records are looked at: a submission after that wakes the next round.
          rearm();
          if (view.stale) {
            // The records taken by batches in flight stay in etcd until those commit: settle them first.
            await drain();
            await resync();
          }
          await settle();
          if (view.stale) continue;
          if (inFlight.length < maxInFlight) {
            const next = await sendNext();
            if (next === "sent") continue;
            if (next === "not-now" && inFlight.length === 0) {
              await sleep(5);
              continue;
            }
          }
          // Wait for the oldest batch's transaction, a new submission (when another batch fits), or a while.
          const waits: Promise<unknown>[] = [];
          const oldest = inFlight[0];
          if (oldest !== undefined) waits.push(oldest.outcome);
          if (inFlight.length < maxInFlight) waits.push(wake.promise);
          if (oldest === undefined) waits.push(sleep(idleWaitMs));
          await Promise.race(waits);
        } catch (error) {
          await drain().catch(() => undefined);
          view.stale = true;
          tip = undefined;
          onError(error);
          await sleep(200);
        }
      }
    } finally {
      await drain().catch(() => undefined);
      await watcher?.cancel().catch(() => undefined);
    }
  };

  const campaignNow = (): void => {
    if (stopped) return;
    const campaign = standForElection(o.client, {
      prefix: electionPrefix,
      value: o.nodeName,
      ttlSeconds,
    });
    current = campaign;
    campaign.on("elected", () => {
      if (current !== campaign || stopped) {
        // Not this sequencer's candidacy any more: it must not hold the election for nobody.
        void campaign.resign();
        return;
      }
      leader = true;
      loop = lead(campaign);
    });
    campaign.on("error", (error: Error) => {
      if (current !== campaign) return;
      leader = false;
      onError(error);
      // The candidacy ended (its lease is no longer renewed); stand again after a pause.
      setTimeout(campaignNow, 500);
    });
  };
  campaignNow();

  return {
    isLeader: () => leader,
    appended: () => appended,
    async stop() {
      stopped = true;
      leader = false;
      const campaign = current;
      current = undefined;
      await campaign?.resign().catch(() => undefined);
      await loop.catch(() => undefined);
    },
  };
}
