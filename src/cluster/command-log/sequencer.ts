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
) => Promise<PreparedBatch | undefined>;

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
  modRevision: string;
}

async function readHead(client: Etcd3, keys: LogKeys): Promise<Head> {
  const r = await client.get(keys.head).exec();
  const kv = r.kvs[0];
  if (kv === undefined) return { position: GENESIS, modRevision: "0" };
  const head = JSON.parse(kv.value.toString("utf8")) as LogPosition;
  if (!Number.isSafeInteger(head.seq) || typeof head.hash !== "string") {
    throw new ClusterError("CLUSTER_LOG_ENTRY_INVALID", "コマンドログの head が正しくありません", {});
  }
  return { position: head, modRevision: kv.mod_revision };
}

interface PendingRecord {
  readonly value: Buffer;
  readonly mod: string;
}

/** The leader's view of the pending records, oldest first (insertion order = create revision order). */
class PendingView {
  readonly records = new Map<string, PendingRecord>();
  /** Must be read again before it is used. */
  stale = true;

  reset(kvs: readonly IKeyValue[]): void {
    this.records.clear();
    for (const kv of kvs) this.put(kv);
    this.stale = false;
  }

  /** A put keeps the record's place (a key is created once; a later put only changes its value). */
  put(kv: IKeyValue): void {
    this.records.set(kv.key.toString("utf8"), { value: kv.value, mod: kv.mod_revision });
  }

  first(limit: number): { key: string; value: Buffer; mod: string }[] {
    const out: { key: string; value: Buffer; mod: string }[] = [];
    for (const [key, r] of this.records) {
      if (out.length >= limit) break;
      out.push({ key, value: r.value, mod: r.mod });
    }
    return out;
  }
}

export function startSequencer(o: SequencerOptions): RunningSequencer {
  const maxBatch = Math.max(1, Math.min(o.maxBatch ?? 1000, (o.maxTxnOps ?? ETCD_DEFAULT_MAX_TXN_OPS) - 8));
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
  /**
   * The head this sequencer itself wrote last (its mod revision is the transaction's revision), so the
   * next batch need not read it back. A stale one only makes the next compare-and-swap fail; the head is
   * then read again.
   */
  let written: Head | undefined;

  const appendOnce = async (
    campaignKey: string,
    wake: { promise: Promise<void> },
    view: PendingView,
  ): Promise<void> => {
    const head = written ?? (await readHead(o.client, o.keys));
    const pending = view.first(maxBatch);
    if (pending.length === 0) {
      if (o.idleCheckpoint?.(head.position) === true) {
        await write(campaignKey, head, { accepted: [], refused: [], checkpoint: true }, [], view);
        return;
      }
      await Promise.race([wake.promise, sleep(idleWaitMs)]);
      return;
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
    const prepared =
      o.prepare === undefined
        ? { accepted: commands, refused: [], checkpoint: false }
        : await o.prepare(head.position, commands);
    if (prepared === undefined) {
      await sleep(5);
      return;
    }
    // A command the state machine neither accepted nor refused stays pending for the next batch.
    const decided = new Set([...prepared.accepted, ...prepared.refused].map((c) => o.keys.pending + c.id));
    await write(
      campaignKey,
      head,
      prepared,
      taken.filter((t) => decided.has(t.key) || dropped.includes(t.key)),
      view,
    );
  };

  /** One all-or-nothing etcd transaction: the batch, the new head, the pending records removed. */
  const write = async (
    campaignKey: string,
    head: Head,
    prepared: PreparedBatch,
    taken: readonly { key: string; mod: string }[],
    view: PendingView,
  ): Promise<void> => {
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
    let txn =
      head.modRevision === "0"
        ? o.client.if(o.keys.head, "Version", "==", 0)
        : o.client.if(o.keys.head, "Mod", "==", head.modRevision);
    txn = txn.and(campaignKey, "Create", ">", 0);
    for (const t of taken) txn = txn.and(t.key, "Mod", "==", t.mod);
    const worthABatch = batch.commands.length > 0 || prepared.refused.length > 0 || prepared.checkpoint;
    const ops = [
      ...(worthABatch
        ? [
            o.client.put(o.keys.logKey(seq)).value(encoded),
            o.client.put(o.keys.head).value(JSON.stringify(position)),
          ]
        : []),
      ...taken.map((t) => o.client.delete().key(t.key)),
    ];
    if (ops.length === 0) return;
    written = undefined;
    const result = await txn.then(...ops).commit();
    if (result.succeeded) for (const t of taken) view.records.delete(t.key);
    // Another writer moved the head or a record (withdrawn, re-put): read the pending records again.
    else view.stale = true;
    if (result.succeeded && worthABatch) written = { position, modRevision: result.header.revision };
    if (result.succeeded && worthABatch) {
      appended++;
      o.onAppend?.(position, batch.commands.length, batch);
    }
  };

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
        view.records.delete(kv.key.toString("utf8"));
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
    try {
      while (!stopped && leader && current === campaign) {
        try {
          // Re-armed before the pending records are looked at: a submission after that wakes the next round.
          rearm();
          if (view.stale) await resync();
          await appendOnce(campaignKey, wake, view);
        } catch (error) {
          view.stale = true;
          onError(error);
          await sleep(200);
        }
      }
    } finally {
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
