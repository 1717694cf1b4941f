/**
 * The sequencer: the one node, elected through etcd (its election recipe: a lease per candidate, the
 * lowest-revision key leads), that moves pending commands into the log in batches. Nodes submit their
 * commands in groups, one pending record per group (`submit-command.ts`); a batch takes whole records,
 * as many as fit. Each append is one etcd transaction that
 *   - compares the head key's value with the one it follows (nobody appended since),
 *   - compares that its own election key still exists (its lease has not expired: a sequencer that lost
 *     leadership cannot append, even if it does not know yet),
 *   - compares each pending record's mod revision (it is still pending, none of its commands withdrawn),
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
 * its speculative head and reads the head and the pending records from etcd again (that bookkeeping,
 * and the view of the pending records below, is `batches-in-flight.ts`).
 *
 * **Handed commands.** A node may also hand its commands to the leader directly (`handOver`, over the
 * peer endpoint or in-process), skipping the pending record's own transaction: the leader queues them in
 * memory and its batch transaction creates their id markers itself, compare-and-create, so they are
 * ordered at most once whatever else happens to them (`handed-commands.ts`). Pending records go first.
 * One whose marker existed already is answered "duplicate" and dropped; the failed batch's other handed
 * commands go into the next one (`batches-in-flight.ts`).
 *
 * The leader does not read the pending records back for every batch: it reads them once when it starts
 * leading (oldest first) and keeps that view current from its watch on the pending prefix, started at
 * the read's revision (a range sorted by create revision makes etcd read and sort *every* pending record,
 * which under a backlog cost more than the batch itself). The view only proposes: each batch's
 * transaction still compares every record's mod revision, and on any doubt — a watch error or
 * reconnection, a failed transaction — the leader reads the records again.
 */
import { setTimeout as sleep } from "node:timers/promises";
import canonicalize from "canonicalize";
import type { Etcd3, Watcher } from "etcd3";
import { ClusterError } from "../errors.js";
import {
  BatchesInFlight,
  PendingView,
  readHead,
  type BatchInFlight,
  type PreparedBatch,
  type TakenRecord,
} from "./batches-in-flight.js";
import {
  MAX_BATCH_BYTES,
  checkCommand,
  type Command,
  type CommandBatch,
  type LogKeys,
  type LogPosition,
} from "./command-batch.js";
import { HandedCommands, type HandOverAnswer } from "./handed-commands.js";
import { standForElection, type Candidacy, type CandidacyGate } from "./sequencer-election.js";
import { parseGroupRecord } from "./submit-command.js";

export type { BatchInFlight, PreparedBatch } from "./batches-in-flight.js";

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

/** etcd's default --max-txn-ops. A batch of n pending records needs 2 + n compares and 2 + n operations. */
export const ETCD_DEFAULT_MAX_TXN_OPS = 128;

export interface SequencerOptions {
  readonly client: Etcd3;
  readonly keys: LogKeys;
  readonly nodeName: string;
  /** Election lease TTL: how long a dead sequencer keeps the role. */
  readonly leaseTtlSeconds?: number;
  /** When this node may stand (sequencer-election.ts "Standing aside"; default: always). */
  readonly gate?: CandidacyGate;
  /** Commands one batch carries at most (default 1,000; its bytes are bounded too). */
  readonly maxBatch?: number;
  /** The cluster's etcd --max-txn-ops (default 128); bounds the pending records one batch takes. */
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
  /**
   * Takes commands handed over directly (checked first; a bad one throws CLUSTER_LOG_ENTRY_INVALID);
   * each answer says whether a batch of this leader ordered it ("sequenced"), found its id known already
   * ("duplicate": its outcome is the earlier submission's), or not known ("not-taken": not the leader,
   * stopped, or its batches failed — the origin then submits it as a pending record).
   */
  handOver(commands: readonly Command[]): Promise<HandOverAnswer[]>;
  stop(): Promise<void>;
}

export function startSequencer(o: SequencerOptions): RunningSequencer {
  const maxBatch = Math.max(1, o.maxBatch ?? 1000);
  // A batch of n pending records needs 2 + n compares and 2 + n operations.
  const maxRecords = Math.max(1, (o.maxTxnOps ?? ETCD_DEFAULT_MAX_TXN_OPS) - 8);
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
  /** The handed commands of the current leadership (undefined: not leading). */
  let handed: HandedCommands | undefined;

  const lead = async (campaign: Candidacy): Promise<void> => {
    const wake: { promise: Promise<void>; signal: () => void } = {
      promise: Promise.resolve(),
      signal: () => undefined,
    };
    const rearm = (): void => {
      wake.promise = new Promise<void>((resolve) => {
        wake.signal = resolve;
      });
    };
    // Set in the same tick as `leader`: a leader always takes handed commands (they wait for the loop).
    const queue = new HandedCommands(() => {
      wake.signal();
    });
    handed = queue;
    let campaignKey: string;
    try {
      campaignKey = await campaign.key();
    } catch (error) {
      if (handed === queue) handed = undefined;
      queue.close();
      throw error;
    }
    let watcher: Watcher | undefined;
    const view = new PendingView();
    const inFlight = new BatchesInFlight({
      client: o.client,
      keys: o.keys,
      campaignKey,
      view,
      onAppend: (f) => {
        appended++;
        o.onAppend?.(f.position, f.batch.commands.length, f.batch);
      },
      onHanded: (ids, answer) => {
        if (answer === "again") queue.again(ids);
        else queue.settled(ids, answer);
      },
    });

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

    /** Forms and sends the next batch after the tip: "sent", "idle" (nothing to send) or "not-now". */
    const sendNext = async (): Promise<"sent" | "idle" | "not-now"> => {
      const head = inFlight.tip ?? (await readHead(o.client, o.keys));
      inFlight.tip = head;
      const pending = view.first(maxRecords);
      if (pending.length === 0 && queue.waiting === 0) {
        if (inFlight.count === 0 && o.idleCheckpoint?.(head.position) === true) {
          inFlight.send(head, { accepted: [], refused: [], checkpoint: true }, []);
          return "sent";
        }
        return "idle";
      }
      const commands: Command[] = [];
      /** The records this batch takes, each with the commands it holds (none: a damaged record). */
      const records: { taken: TakenRecord; ids: readonly string[] }[] = [];
      let dropped = 0;
      let size = 0;
      for (const kv of pending) {
        const taken = { key: kv.key, mod: kv.mod };
        let group: Command[];
        try {
          group = parseGroupRecord(kv.value.toString("utf8"));
        } catch {
          // Not a record of commands (a damaged record): removed with the batch, never ordered.
          dropped++;
          records.push({ taken, ids: [] });
          continue;
        }
        size += kv.value.length;
        if (
          commands.length > 0 &&
          (size > MAX_BATCH_BYTES - 1024 || commands.length + group.length > maxBatch)
        )
          break;
        commands.push(...group);
        records.push({ taken, ids: group.map((c) => c.id) });
      }
      // Handed commands after the records, in what room the batch has left (one compare and one put each).
      const fromRecords = new Set(commands.map((c) => c.id));
      const room = Math.min(maxBatch - commands.length, maxRecords - records.length);
      const offered = room > 0 ? queue.first(room, MAX_BATCH_BYTES - 1024 - size) : [];
      // An id also in a pending record is that record's (its marker exists: this batch would fail); its
      // outcome is the record's, as for a duplicate submission.
      const twice = offered.filter((c) => fromRecords.has(c.id)).map((c) => c.id);
      queue.taken(twice);
      queue.settled(twice, "duplicate");
      const direct = offered.filter((c) => !fromRecords.has(c.id));
      commands.push(...direct);
      if (dropped > 0)
        onError(
          new ClusterError("CLUSTER_LOG_ENTRY_INVALID", "不正な保留コマンドを除きました", {
            count: dropped,
          }),
        );
      const ahead = inFlight.ahead();
      const prepared =
        o.prepare === undefined
          ? { accepted: commands, refused: [], checkpoint: false }
          : await o.prepare(head.position, commands, ahead);
      if (prepared === undefined) return "not-now";
      // A record whose commands the state machine neither accepted nor refused stays pending for the next
      // batch; one it decided only in part cannot be taken (its record holds them together).
      const decided = new Set([...prepared.accepted, ...prepared.refused].map((c) => c.id));
      const taken: TakenRecord[] = [];
      for (const r of records) {
        const n = r.ids.filter((id) => decided.has(id)).length;
        if (n === r.ids.length) taken.push(r.taken);
        else if (n > 0) {
          throw new ClusterError("CLUSTER_LOG_ENTRY_INVALID", "保留コマンドの一部だけを判定しました", {
            decided: n,
            commands: r.ids.length,
          });
        }
      }
      const handedIds = direct.map((c) => c.id).filter((id) => decided.has(id));
      queue.taken(handedIds);
      inFlight.send(head, prepared, taken, handedIds);
      return "sent";
    };

    try {
      while (!stopped && leader && current === campaign) {
        try {
          // Re-armed before the pending records are looked at: a submission after that wakes the next round.
          rearm();
          if (view.stale) {
            // The records taken by batches in flight stay in etcd until those commit: settle them first.
            await inFlight.drain();
            await resync();
          }
          await inFlight.settle();
          if (view.stale) continue;
          if (inFlight.count < maxInFlight) {
            const next = await sendNext();
            if (next === "sent") continue;
            if (next === "not-now" && inFlight.count === 0) {
              await sleep(5);
              continue;
            }
          }
          // Wait for the oldest batch's transaction, a new submission (when another batch fits), or a while.
          const waits: Promise<unknown>[] = [];
          const oldest = inFlight.oldest;
          if (oldest !== undefined) waits.push(oldest);
          if (inFlight.count < maxInFlight) waits.push(wake.promise);
          if (oldest === undefined) waits.push(sleep(idleWaitMs));
          await Promise.race(waits);
        } catch (error) {
          await inFlight.drain().catch(() => undefined);
          view.stale = true;
          inFlight.tip = undefined;
          onError(error);
          await sleep(200);
        }
      }
    } finally {
      if (handed === queue) handed = undefined;
      await inFlight.drain().catch(() => undefined);
      queue.close();
      await watcher?.cancel().catch(() => undefined);
    }
  };

  const campaignNow = (): void => {
    if (stopped) return;
    const campaign = standForElection(o.client, {
      prefix: electionPrefix,
      value: o.nodeName,
      ttlSeconds,
      ...(o.gate !== undefined ? { gate: o.gate } : {}),
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
    handOver(commands) {
      const checked = commands.map((c) => checkCommand(c));
      const queue = leader ? handed : undefined;
      if (queue === undefined) return Promise.resolve(checked.map(() => "not-taken" as const));
      return Promise.all(
        queue.add(
          checked.map((command) => ({ command, bytes: Buffer.byteLength(canonicalize(command) ?? "") })),
        ),
      );
    },
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
