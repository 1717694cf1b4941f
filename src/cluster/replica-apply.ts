/**
 * The replica side of the cluster's write port: every node — the sequencer, the other online nodes, the
 * offline node — follows the command log (`command-log/log-follower.ts`) from the position its own
 * service.db records and applies each batch in log order to its own ledger.db and service.db
 * (`replicated-state.ts`: idempotent, resumable after a restart).
 *
 * When etcd's log was trimmed past this node (CLUSTER_LOG_TRIMMED), it catches up from a peer instead
 * (`log-catch-up.ts`: the peer's batches are believed only once proven against a quorum-cosigned
 * checkpoint and a consistency proof from this node's own root), retried at a bounded pace, then follows
 * etcd again. Any other failure stops the replica; the node reports it and fails its waiting calls. A
 * replica stopped on CLUSTER_APPLY_FAILED follows again once a repair mended the copy (`restartIfStopped`).
 */
import type { Etcd3 } from "etcd3";
import type { CosignerPolicy } from "../ledger/verify/published-checkpoint.js";
import type { VerifierKey } from "../ledger/verify/verifier-key.js";
import type { CommandBatch, LogKeys, LogPosition } from "./command-log/command-batch.js";
import { startFollower, type RunningFollower } from "./command-log/log-follower.js";
import type { ClusterError } from "./errors.js";
import { catchUpFromPeers, type CatchUpResult } from "./log-catch-up.js";
import type { PeerEndpoint } from "./peer/peer-client.js";
import type { PeerTls } from "./peer/peer-server.js";
import type { ReplicatedState } from "./replicated-state.js";

/** Pause between failed catch-up attempts. */
const CATCH_UP_RETRY_MS = 2000;

export interface ReplicaApplyOptions {
  readonly client: Etcd3;
  readonly keys: LogKeys;
  readonly nodeName: string;
  readonly state: ReplicatedState;
  /** The offline node: serializable reads from its own learner, polling, no progress reports. */
  readonly offline: boolean;
  /** Applies a batch to this node's copy and settles what waited on it. */
  readonly apply: (batch: CommandBatch, position: LogPosition) => void;
  /** Root of this node's own copy at a size (what a peer's consistency proof must start from). */
  readonly ownRootAt: (size: number) => Uint8Array;
  readonly logKey: VerifierKey;
  readonly policy: CosignerPolicy;
  /** Peers to catch up from when etcd's log was trimmed past this node (and this node's TLS identity). */
  readonly catchUp?: { readonly peers: readonly PeerEndpoint[]; readonly tls: PeerTls };
  /** The replica stopped for good (not a trimmed log with peers to catch up from). */
  readonly onStopped: (failure: ClusterError, error: unknown) => void;
  readonly onError?: (error: unknown) => void;
}

export class ReplicaApply {
  readonly #o: ReplicaApplyOptions;
  #follower: RunningFollower | undefined;
  #closed = false;
  /** Batches applied through a catch-up from peers. */
  caughtUp = 0;
  /** The last catch-up from peers: which peer served it and which were refused, with why. */
  lastCatchUp: CatchUpResult | undefined;

  constructor(o: ReplicaApplyOptions) {
    this.#o = o;
  }

  /** The running follower (undefined while catching up from a peer). */
  get follower(): RunningFollower | undefined {
    return this.#follower;
  }

  start(): void {
    const o = this.#o;
    this.#follower = startFollower({
      client: o.client,
      keys: o.keys,
      nodeName: o.nodeName,
      from: o.state.position(),
      idleWaitMs: o.offline ? 250 : 1000,
      reportProgress: !o.offline,
      serializable: o.offline,
      apply: o.apply,
      onError: (error) => {
        o.onError?.(error);
        const failure = this.#follower?.failure();
        if (failure?.code === "CLUSTER_LOG_TRIMMED" && o.catchUp !== undefined) {
          this.#catchUpLater(0);
          return;
        }
        if (failure !== undefined) o.onStopped(failure, error);
      },
    });
  }

  /**
   * Follows the log again after the follower stopped on CLUSTER_APPLY_FAILED, from the position the
   * node's service.db records: called once a repair put back what the copy lacked (its last entry rows
   * deleted, the next batch found the ledger shorter than its position and stopped the replica). A
   * replica catching up from peers, or stopped for another reason, is left as it is.
   * @returns whether it started again
   */
  restartIfStopped(): boolean {
    if (this.#closed || this.#follower?.failure()?.code !== "CLUSTER_APPLY_FAILED") return false;
    this.start();
    return true;
  }

  /** The error that stopped the replica's follower, if one did (e.g. CLUSTER_LOG_TRIMMED). */
  failure(): ClusterError | undefined {
    return this.#follower?.failure();
  }

  async stop(): Promise<void> {
    this.#closed = true;
    await this.#follower?.stop();
  }

  /** Catch-up from peers, retried at a bounded pace until it succeeds or the node closes. */
  #catchUpLater(delayMs: number): void {
    const o = this.#o;
    const catchUp = o.catchUp;
    if (catchUp === undefined || this.#closed) return;
    setTimeout(() => {
      if (this.#closed) return;
      void (async () => {
        try {
          await this.#follower?.stop();
          const result = await catchUpFromPeers({
            client: o.client,
            keys: o.keys,
            position: () => o.state.position(),
            apply: o.apply,
            ownRootAt: o.ownRootAt,
            logKey: o.logKey,
            policy: o.policy,
            peers: catchUp.peers,
            tls: catchUp.tls,
            serializable: o.offline,
          });
          this.caughtUp += result.applied;
          this.lastCatchUp = result;
          if (!this.#closed) this.start();
        } catch (error) {
          o.onError?.(error);
          this.#catchUpLater(CATCH_UP_RETRY_MS);
        }
      })();
    }, delayMs);
  }
}
