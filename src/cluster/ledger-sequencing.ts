/**
 * The sequencer side of the cluster's write port: on an online node, standing for sequencer
 * (`command-log/sequencer.ts`, elected through an etcd lease) with this node's replicated state as the
 * judge of each batch.
 *
 * - **Prepare.** Before a batch is written, its commands are run against this node's own state at the
 *   log head (`ReplicatedState.prepare`, in a rolled-back transaction): a command whose preconditions fail
 *   is refused and nothing of it is written anywhere. If this node is behind the head (it just became
 *   sequencer), it first waits for its follower to reach it.
 * - **Checkpoint cadence.** The sequencer marks a batch as a checkpoint batch at most every
 *   `checkpointIntervalMs` while entries are unsigned, and promptly (spaced by
 *   {@link CHECKPOINT_REQUEST_SPACING_MS}) when a node asked for one; with nothing pending it writes an
 *   empty checkpoint batch when entries are unsigned and someone waits or the interval passed.
 *   "Unsigned" counts from the last checkpoint *batch*, not from the last signed checkpoint: signing runs
 *   in a task of its own after the batch is applied, so the signed size lags, and judging by it wrote a
 *   second checkpoint batch at the same size while a waiter waited for the first to be published.
 * - **Apply at once.** The batch just committed in etcd is applied here immediately (the follower then
 *   finds it applied), so the next batch can be prepared without waiting for the watch and the read back.
 * - **Batches in flight.** The next batch is prepared while earlier ones are still being committed: those
 *   this node has not applied yet are run first in the same rolled-back trial (`ReplicatedState.prepare`'s
 *   `ahead`), so each batch is judged against exactly the state it will follow.
 */
import type { Etcd3 } from "etcd3";
import type { LogStorage } from "../ledger/log-storage.js";
import type { CommandBatch, LogKeys, LogPosition } from "./command-log/command-batch.js";
import type { RunningFollower } from "./command-log/log-follower.js";
import type { CandidacyGate } from "./command-log/sequencer-election.js";
import { startSequencer, type RunningSequencer } from "./command-log/sequencer.js";
import type { ReplicatedState } from "./replicated-state.js";
import { LEDGER_APPEND } from "./state-command.js";

/** Minimum spacing of checkpoint batches asked for by checkpoint requests. */
export const CHECKPOINT_REQUEST_SPACING_MS = 100;

/**
 * When the last checkpoint batch was flagged — by this node as sequencer, or seen applied (another
 * sequencer's) — so the cadence holds across a change of sequencer.
 */
export class CheckpointCadence {
  readonly intervalMs: number;
  #lastFlagAt = 0;
  /** The ledger size of the last checkpoint batch this node applied (0: none seen since it started). */
  #coveredSize = 0;

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs;
  }

  /** Whether a batch about to be written carries a checkpoint (and if so, counts it as flagged). */
  flagBatch(requested: boolean, hasEntries: boolean, now = Date.now()): boolean {
    const since = now - this.#lastFlagAt;
    const due =
      (requested && since >= CHECKPOINT_REQUEST_SPACING_MS) || (hasEntries && since >= this.intervalMs);
    if (due) this.#lastFlagAt = now;
    return due;
  }

  /** Whether the interval passed since the last flag. */
  intervalPassed(now = Date.now()): boolean {
    return now - this.#lastFlagAt >= this.intervalMs;
  }

  /** A checkpoint batch was flagged or applied now (`ledgerSize`: the size it checkpoints, if applied). */
  flagged(now = Date.now(), ledgerSize?: number): void {
    this.#lastFlagAt = Math.max(this.#lastFlagAt, now);
    if (ledgerSize !== undefined) this.#coveredSize = Math.max(this.#coveredSize, ledgerSize);
  }

  /** The ledger size the last applied checkpoint batch checkpoints. */
  get coveredSize(): number {
    return this.#coveredSize;
  }
}

const hasEntries = (batch: CommandBatch): boolean =>
  batch.commands.some((c) => (c.body as { type?: string }).type === LEDGER_APPEND);

export interface LedgerSequencingOptions {
  readonly client: Etcd3;
  readonly keys: LogKeys;
  readonly nodeName: string;
  readonly storage: LogStorage;
  readonly state: ReplicatedState;
  readonly cadence: CheckpointCadence;
  readonly leaseTtlSeconds: number;
  /** When this node may stand for sequencer (not while its own copy is damaged: integrity). */
  readonly gate?: CandidacyGate | undefined;
  readonly maxTxnOps?: number;
  /** This node's follower (the sequencer waits for it to reach the head before preparing). */
  readonly follower: () => RunningFollower | undefined;
  /** Whether someone on this node waits for a checkpoint covering an entry. */
  readonly checkpointWanted: () => boolean;
  /** Applies a batch to this node's copy and settles what waited on it (same path as the follower's). */
  readonly apply: (batch: CommandBatch, position: LogPosition) => void;
  readonly onError?: (error: unknown) => void;
}

/** Stands for sequencer; the batches it writes are judged by, and applied at once to, this node's state. */
export function startLedgerSequencing(o: LedgerSequencingOptions): RunningSequencer {
  const signedSize = (): number => o.storage.latestCheckpoint()?.size ?? 0;
  return startSequencer({
    client: o.client,
    keys: o.keys,
    nodeName: o.nodeName,
    leaseTtlSeconds: o.leaseTtlSeconds,
    ...(o.gate !== undefined ? { gate: o.gate } : {}),
    idleWaitMs: Math.min(200, o.cadence.intervalMs),
    ...(o.maxTxnOps !== undefined ? { maxTxnOps: o.maxTxnOps } : {}),
    ...(o.onError !== undefined ? { onError: o.onError } : {}),
    onAppend: (position, _commands, batch) => {
      const p = o.state.position();
      if (p.seq !== batch.seq - 1 || p.hash !== batch.prev) return;
      try {
        o.apply(batch, position);
      } catch (error) {
        // The follower applies it (or stops on the same error) when it reads the batch back.
        o.onError?.(error);
      }
    },
    prepare: async (head, commands, ahead) => {
      // The state must reach the batch before the first one in flight it has not applied (or the head).
      const unapplied = (): typeof ahead => ahead.filter((a) => a.batch.seq > o.state.position().seq);
      const need = (unapplied()[0]?.batch.seq ?? head.seq + 1) - 1;
      const follower = o.follower();
      if (follower !== undefined && o.state.position().seq < need) {
        await follower.waitFor(need, 5000).catch(() => undefined);
      }
      const before = unapplied();
      const prepared = o.state.prepare(head, commands, before);
      if (prepared === undefined) return undefined;
      const entries = prepared.accepted.some((c) => (c.body as { type?: string }).type === LEDGER_APPEND);
      // Entries no checkpoint batch covers yet, up to the end of this batch: the state's own (applied
      // after the last checkpoint batch it applied), then the batches in flight in order.
      let uncovered = o.state.position().ledgerSize > Math.max(signedSize(), o.cadence.coveredSize);
      for (const a of before) {
        if (hasEntries(a.batch)) uncovered = true;
        if (a.batch.checkpoint === true) uncovered = false;
      }
      uncovered ||= entries;
      return { ...prepared, checkpoint: uncovered && o.cadence.flagBatch(prepared.checkpoint, entries) };
    },
    idleCheckpoint: (head) => {
      const p = o.state.position();
      if (p.seq !== head.seq) return false;
      const signed = Math.max(signedSize(), o.cadence.coveredSize);
      const wanted = o.checkpointWanted() || o.cadence.intervalPassed();
      if (p.ledgerSize <= signed || !wanted) return false;
      o.cadence.flagged();
      return true;
    },
  });
}
