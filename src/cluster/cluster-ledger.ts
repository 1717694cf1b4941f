/**
 * The cluster's ledger write port (`ledger/write-port.ts`) on etcd: the service becomes a replicated
 * state machine. The port drives the node's parts, one concept each; how each item of the port's
 * contract is met:
 *
 * - **Order.** `append` turns the call into a command — the records plus the service state change as
 *   data ({@link StateCommand}) — and submits it to the command log on etcd (`command-ordering.ts`). The
 *   elected sequencer (`ledger-sequencing.ts` over `command-log/sequencer.ts`, one at a time through an
 *   etcd lease) gathers pending commands into batches, runs them against its own state first
 *   (`ReplicatedState.prepare`: a command whose preconditions fail is refused and nothing of it is
 *   written), and writes the batch with a transaction that compares-and-swaps the log head and checks its
 *   own election key, so a deposed sequencer's late write fails instead of forking the log.
 * - **Durability.** A batch is durable once that etcd transaction commits (a Raft majority fsynced it).
 *   `append` resolves later still: once this node's own replica applied the batch to its ledger.db and
 *   service.db (read-your-writes on the node that took the request), with the indices the batch gave.
 * - **State change and entries together.** Every node — the sequencer, the other online nodes, the
 *   offline node — applies each batch in log order to its own files (`replica-apply.ts`,
 *   `replicated-state.ts`), idempotently, resuming after a restart from the position kept in its
 *   service.db, catching up from a peer when etcd's log was trimmed past it.
 * - **A rejection means nothing was written.** A refused call rejects with the refusing error's code; a
 *   call not ordered in time is withdrawn first and only then rejected (`command-ordering.ts`).
 * - **Checkpoints.** The sequencer marks checkpoint batches on the cadence (`ledger-sequencing.ts`); after
 *   applying one every online node signs and cosigns its own copy's checkpoint, and it is *published* once
 *   the quorum of online nodes cosigned (`checkpoint-publication.ts`); `checkpointCovering` and
 *   `latestCheckpoint` only ever return published checkpoints this node's copy covers.
 *
 * Where it lives: the options in `cluster-ledger-options.ts`, the parts built and connected in
 * `cluster-ledger-parts.ts`, the reads of this node's own copy in `ledger/stored-log-reader.ts`; this file keeps
 * what happens when — start, append, the checkpoint answers, close, and the step after each batch.
 */
import { LedgerError } from "../ledger/errors.js";
import { Ledger } from "../ledger/ledger.js";
import { checkRequests } from "../ledger/sequencer.js";
import { StoredLogReader } from "../ledger/stored-log-reader.js";
import type {
  AppendOptions,
  AppendRequest,
  AppendResult,
  LedgerWritePort,
  PublishedCheckpoint,
  StateCommand,
} from "../ledger/write-port.js";
import type { CommandBatch, LogKeys, LogPosition } from "./command-log/command-batch.js";
import type { RunningSequencer } from "./command-log/sequencer.js";
import type { HandOver } from "./command-log/hand-over.js";
import { handOverRoute } from "./command-log/hand-over-route.js";
import { asJsonRequest } from "./json-request.js";
import type { CheckpointPublication } from "./checkpoint-publication.js";
import { assembleClusterLedger } from "./cluster-ledger-parts.js";
import type { ClusterLedgerOptions } from "./cluster-ledger-options.js";
import type { CommandOrdering } from "./command-ordering.js";
import type { CosignerMemory } from "./cosigner-memory.js";
import { ClusterError } from "./errors.js";
import { startLedgerSequencing, type CheckpointCadence } from "./ledger-sequencing.js";
import type { CatchUpResult } from "./log-catch-up.js";
import { logStartProblem } from "./log-genesis.js";
import { logPeerRoute } from "./log-peer-route.js";
import type { PeerRoute } from "./peer/peer-server.js";
import type { ReplicaApply } from "./replica-apply.js";
import type { ReplicatedState } from "./replicated-state.js";
import { LEDGER_APPEND } from "./state-command.js";

export { RefusedCommandError } from "./command-ordering.js";
export type { ClusterLedgerOptions } from "./cluster-ledger-options.js";

function closedError(): ClusterError {
  return new ClusterError("CLUSTER_UNAVAILABLE", "台帳は閉じられています", { closed: true });
}

/**
 * The cluster's ledger write port on one node; its reads ({@link StoredLogReader}) answer from this node's
 * own copy.
 */
export class ClusterLedger extends StoredLogReader implements LedgerWritePort {
  readonly nodeName: string;
  readonly #o: ClusterLedgerOptions;
  readonly #keys: LogKeys;
  readonly #ledger: Ledger;
  readonly #state: ReplicatedState;
  readonly #memory: CosignerMemory;
  readonly #cadence: CheckpointCadence;
  readonly #ordering: CommandOrdering;
  readonly #handOver: HandOver;
  readonly #publication: CheckpointPublication;
  readonly #replica: ReplicaApply;
  #sequencer: RunningSequencer | undefined;
  #applied = 0;
  #refused = 0;
  #closed = false;

  constructor(o: ClusterLedgerOptions) {
    const ledger = new Ledger({ storage: o.storage });
    super(o.storage, ledger);
    this.#o = o;
    this.nodeName = o.nodeName;
    this.#ledger = ledger;
    const parts = assembleClusterLedger(o, ledger, {
      sequencer: () => this.#sequencer,
      apply: (batch, position) => {
        this.#apply(batch, position);
      },
      replicaStopped: (failure, error) => {
        // A copy the next batch did not fit (CLUSTER_APPLY_FAILED: its last entry rows deleted, say) is
        // what the integrity repair mends, and the replica then follows again (`resumeReplica`): the
        // calls waiting on it keep their own bounded waits (command-ordering.ts) and are settled once it
        // applies their batches — failing them now would answer "outcome unknown" for commands the
        // cluster did apply (a send asked again then met its own earlier success as a 409).
        if (failure.code === "CLUSTER_APPLY_FAILED") return;
        this.#failAll(
          new ClusterError(
            "CLUSTER_UNAVAILABLE",
            "このノードはコマンドログを適用できなくなりました",
            { outcome: "unknown" },
            { cause: error },
          ),
        );
      },
    });
    this.#keys = parts.keys;
    this.#state = parts.state;
    this.#memory = parts.memory;
    this.#cadence = parts.cadence;
    this.#ordering = parts.ordering;
    this.#handOver = parts.handOver;
    this.#publication = parts.publication;
    this.#replica = parts.replica;
  }

  /** Starts following the log (and, on an online node, standing for sequencer). */
  start(): this {
    const o = this.#o;
    this.#replica.start();
    // A copy that applied batches on an etcd without them (a fresh etcd not re-formed): say so.
    void logStartProblem(o.client, o.prefix, this.#state.position(), {
      serializable: o.offline === true,
    }).then((problem) => {
      if (problem === undefined) return;
      o.onError?.(problem);
      this.#failAll(problem);
    });
    if (o.offline !== true && o.cosigner !== undefined) {
      this.#sequencer = startLedgerSequencing({
        client: o.client,
        keys: this.#keys,
        nodeName: o.nodeName,
        storage: o.storage,
        state: this.#state,
        cadence: this.#cadence,
        leaseTtlSeconds: o.leaseTtlSeconds ?? 2,
        gate: o.sequencerGate,
        ...(o.maxTxnOps !== undefined ? { maxTxnOps: o.maxTxnOps } : {}),
        follower: () => this.#replica.follower,
        checkpointWanted: () => this.#publication.wanted,
        apply: (batch, position) => {
          this.#apply(batch, position);
        },
        ...(o.onError !== undefined ? { onError: o.onError } : {}),
      });
    }
    this.#publication.startPolling();
    return this;
  }

  /** What this node serves peers: what etcd can no longer serve, and the hand-over (mount on the peer endpoint). */
  peerRoute(): PeerRoute {
    const log = logPeerRoute({
      batchesFrom: (from, limit) => this.#state.batchesFrom(from, limit),
      published: () => this.#publication.published,
      consistencyProof: (from, to) => this.#ledger.consistencyProof(from, to).proof,
    });
    const handOver = handOverRoute(() => this.#sequencer);
    return async (req, res, peer) => (await log(req, res, peer)) || handOver(req, res, peer);
  }

  /** Batches applied, cosignatures made, checkpoints taken, commands refused, batches from peers. */
  get stats(): { applied: number; cosigned: number; published: number; refused: number; caughtUp: number } {
    return {
      applied: this.#applied,
      cosigned: this.#publication.stats.cosigned,
      published: this.#publication.stats.published,
      refused: this.#refused,
      caughtUp: this.#replica.caughtUp,
    };
  }

  /** The last catch-up from peers: which peer served it and which were refused, with why. */
  get lastCatchUp(): CatchUpResult | undefined {
    return this.#replica.lastCatchUp;
  }

  /** This node's position in the log, whether it is the sequencer now, and the published size. */
  status(): { seq: number; ledgerSize: number; sequencer: boolean; published: number; cosigned: number } {
    const p = this.#state.position();
    return {
      seq: p.seq,
      ledgerSize: p.ledgerSize,
      sequencer: this.#sequencer?.isLeader() ?? false,
      published: this.#publication.published?.size ?? 0,
      cosigned: this.#memory.last()?.size ?? 0,
    };
  }

  /** The error that stopped this node's replica, if one did (e.g. CLUSTER_LOG_TRIMMED). */
  failure(): ClusterError | undefined {
    return this.#replica.failure();
  }

  /**
   * Whether this node's replica stopped and will not follow the log again by itself. A replica stopped
   * on a copy the next batch did not fit (CLUSTER_APPLY_FAILED) is not: the integrity repair mends the
   * copy and starts it again (`resumeReplica`), so a request waiting for this node to catch up keeps
   * waiting (bounded) rather than being served from the copy as it stood.
   */
  stoppedForGood(): boolean {
    const failure = this.#replica.failure();
    return failure !== undefined && failure.code !== "CLUSTER_APPLY_FAILED";
  }

  /** The archived canonical batches from `from` on (what a peer serves a node etcd no longer can). */
  batchesFrom(from: number, limit: number): string[] {
    return this.#state.batchesFrom(from, limit);
  }

  // ——— write port ———

  append(requests: readonly AppendRequest[], options: AppendOptions = {}): Promise<AppendResult[]> {
    if (this.#closed) return Promise.reject(closedError());
    if (this.#o.offline === true) {
      return Promise.reject(
        new ClusterError("CLUSTER_UNAVAILABLE", "オフラインのノードでは追記できません", { offline: true }),
      );
    }
    try {
      checkRequests(requests);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const command: StateCommand | undefined = options.command;
    const body = {
      type: LEDGER_APPEND,
      requests: requests.map(asJsonRequest),
      ...(command !== undefined ? { command } : {}),
    };
    return this.#ordering.order(body).then((results) => [...results]);
  }

  checkpointCovering(index: number): Promise<PublishedCheckpoint> {
    if (this.#closed) return Promise.reject(closedError());
    const size = this.#o.storage.size();
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      return Promise.reject(
        new LedgerError("LEDGER_INDEX_OUT_OF_RANGE", "まだ追記されていないエントリです", { index, size }),
      );
    }
    return this.#publication.covering(index);
  }

  latestCheckpoint(): PublishedCheckpoint {
    return this.#publication.latest();
  }

  /**
   * The published checkpoint the integrity check and the repair prove this copy against: the newest
   * within the copy's size, reproduced by it or not — except while the copy is shorter than what this
   * node applied (its last entry rows deleted: the stored size is MAX(idx) + 1), when only one reaching
   * the applied size proves the missing tail: the newest published at all, the sequencer asked for one
   * when none reaches it yet (`CheckpointPublication.reaching`).
   */
  newestPublished(): PublishedCheckpoint | undefined {
    const applied = this.#state.position().ledgerSize;
    if (this.#o.storage.size() >= applied) return this.#publication.newest;
    return this.#publication.reaching(applied);
  }

  /** ledger.db was repaired underneath: the head (compact range, last leaf) is read again from it. */
  ledgerRepaired(): void {
    this.#state.reloadHead();
  }

  /** A replica stopped on a damaged copy (CLUSTER_APPLY_FAILED) follows again: a repair's re-check passed. */
  resumeReplica(): boolean {
    return this.#replica.restartIfStopped();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#publication.stopPolling();
    await this.#sequencer?.stop();
    await this.#replica.stop();
    await this.#publication.stop();
    this.#handOver.close();
    this.#failAll(closedError());
    this.#o.storage.close();
  }

  // ——— after a batch ———

  /**
   * Applies a batch to this node's copy (follower, catch-up and the sequencer's own batch all come here)
   * and then settles who waited on its commands and, for a checkpoint batch, signs and cosigns.
   */
  #apply(batch: CommandBatch, position: LogPosition): void {
    const applied = this.#state.apply(batch, position);
    if (applied === undefined) return;
    this.#applied++;
    this.#refused += applied.refused.length;
    this.#ordering.settle(applied, batch.commands);
    if (applied.checkpoint) this.#cadence.flagged(Date.now(), applied.position.ledgerSize);
    this.#publication.afterApply(
      batch.commands.map((c) => c.id),
      applied.refused,
      applied.checkpoint,
      applied.position.ledgerSize,
    );
  }

  #failAll(error: unknown): void {
    this.#ordering.failAll(error);
    this.#publication.failAll(error);
  }
}
