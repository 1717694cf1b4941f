/**
 * The cluster's ledger write port (`ledger/write-port.ts`) on etcd: the service becomes a replicated
 * state machine. This file puts the node's parts together, one concept each; how each item of the
 * port's contract is met:
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
 */
import type { Etcd3 } from "etcd3";
import type { NoteSigner } from "../crypto/note-signer.js";
import { LedgerError } from "../ledger/errors.js";
import { fsck, type FsckResult } from "../ledger/fsck.js";
import { Ledger, type ConsistencyProofJson, type InclusionProofJson } from "../ledger/ledger.js";
import {
  entriesAt,
  keyedLeafHashes,
  keyedLeafHashesOf,
  storedLeafHash,
  type LogStorage,
} from "../ledger/log-storage.js";
import type { LedgerReader } from "../ledger/read-port.js";
import { checkRequests } from "../ledger/sequencer.js";
import type { CosignerPolicy } from "../ledger/verify/published-checkpoint.js";
import { parseVerifierKey, type VerifierKey } from "../ledger/verify/verifier-key.js";
import {
  CHECKPOINT_INTERVAL_MS,
  type AppendOptions,
  type AppendRequest,
  type AppendResult,
  type CheckpointPublished,
  type LedgerWritePort,
  type PublishedCheckpoint,
  type StateCommand,
} from "../ledger/write-port.js";
import type { ServiceDb } from "../store/service-db.js";
import { logKeys, type CommandBatch, type LogKeys, type LogPosition } from "./command-log/command-batch.js";
import type { RunningSequencer } from "./command-log/sequencer.js";
import type { CandidacyGate } from "./command-log/sequencer-election.js";
import { createHandOver, type HandOver } from "./command-log/hand-over.js";
import { handOverRoute } from "./command-log/hand-over-route.js";
import { createGroupedSubmitter } from "./command-log/submit-command.js";
import { asJsonRequest } from "./json-request.js";
import { CheckpointPublication, type GuardedCosign } from "./checkpoint-publication.js";
import { CommandOrdering } from "./command-ordering.js";
import { CosignerMemory } from "./cosigner-memory.js";
import { cosignAfterCheck } from "./integrity/cosign-guard.js";
import { EntryWatch } from "./integrity/entry-watch.js";
import { NodeHealth } from "./integrity/node-health.js";
import { ClusterError } from "./errors.js";
import { CheckpointCadence, startLedgerSequencing } from "./ledger-sequencing.js";
import type { CatchUpResult } from "./log-catch-up.js";
import { logStartProblem } from "./log-genesis.js";
import { logPeerRoute } from "./log-peer-route.js";
import type { PeerEndpoint } from "./peer/peer-client.js";
import type { PeerRoute, PeerTls } from "./peer/peer-server.js";
import { ReplicaApply } from "./replica-apply.js";
import { ReplicatedState } from "./replicated-state.js";
import { LEDGER_APPEND, type ApplyCommand } from "./state-command.js";

export { RefusedCommandError } from "./command-ordering.js";

export interface ClusterLedgerOptions {
  readonly client: Etcd3;
  /** Key prefix of this cluster's log in etcd (e.g. "kenshin/"). */
  readonly prefix: string;
  readonly nodeName: string;
  /** This node's own ledger.db and service.db. */
  readonly storage: LogStorage;
  readonly db: ServiceDb;
  readonly applyCommand: ApplyCommand;
  /**
   * The log's signing key (the same on every online node: equal copies give byte-equal checkpoints).
   * The offline node holds none: it keeps the log-signed part of each published checkpoint its own copy
   * reproduces, so its ledger.db passes fsck on its own.
   */
  readonly logSigner?: NoteSigner;
  /** The log's verifier key (vkey); needed when there is no `logSigner`. */
  readonly logVerifierKey?: string;
  /** This node's witness key; absent on the offline node, which neither cosigns nor sequences. */
  readonly cosigner?: NoteSigner;
  /**
   * How this node cosigns: `NodeIntegrity.cosign` when the node runs its integrity watch (so a finding
   * quarantines the node for its server too). Without it, the port keeps a watch of its own: every
   * cosignature still re-hashes and checks each new entry and recomputes the root first, and a finding
   * stops this node's cosigning (reported through `onError`).
   */
  readonly cosign?: GuardedCosign;
  /** Pinned cosigners of the online nodes and how many must cosign a published checkpoint. */
  readonly policy: CosignerPolicy;
  /** The offline backup node: applies the log from its own etcd learner (serializable reads), no writes. */
  readonly offline?: boolean;
  readonly leaseTtlSeconds?: number;
  readonly sequencerGate?: CandidacyGate;
  readonly checkpointIntervalMs?: number;
  /** How long an append waits to be ordered before it is withdrawn. */
  readonly appendTimeoutMs?: number;
  readonly maxTxnOps?: number;
  /** Peers to catch up from when etcd's log was trimmed past this node (and this node's TLS identity). */
  readonly catchUp?: { readonly peers: readonly PeerEndpoint[]; readonly tls: PeerTls };
  /** Called once with each published checkpoint this node takes (e.g. to time-stamp it); must not throw. */
  readonly onCheckpoint?: CheckpointPublished;
  readonly onError?: (error: unknown) => void;
}

/** The guarded cosign over a watch of the port's own (see {@link ClusterLedgerOptions.cosign}). */
function ownGuardedCosign(storage: LogStorage): GuardedCosign {
  const watch = new EntryWatch({ storage });
  const health = new NodeHealth({ now: () => new Date() });
  return (input) => cosignAfterCheck({ ...input, watch, health });
}

function closedError(): ClusterError {
  return new ClusterError("CLUSTER_UNAVAILABLE", "台帳は閉じられています", { closed: true });
}

export class ClusterLedger implements LedgerWritePort, LedgerReader {
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
    this.#o = o;
    this.nodeName = o.nodeName;
    this.#keys = logKeys(o.prefix);
    this.#ledger = new Ledger({ storage: o.storage });
    this.#state = new ReplicatedState({ storage: o.storage, db: o.db, applyCommand: o.applyCommand });
    const vkey = o.logSigner?.verifierKey ?? o.logVerifierKey;
    if (vkey === undefined) {
      throw new ClusterError("CLUSTER_OPTION_INVALID", "ログの検証鍵がありません", {});
    }
    const logKey: VerifierKey = parseVerifierKey(vkey);
    const offline = o.offline === true;
    this.#memory = new CosignerMemory(o.db);
    const intervalMs = o.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS;
    this.#cadence = new CheckpointCadence(intervalMs);
    const submitter = createGroupedSubmitter(o.client, this.#keys, {
      maxDelayMs: 2,
      ...(o.maxTxnOps !== undefined ? { maxTxnOps: o.maxTxnOps } : {}),
    });
    const peers = o.catchUp && { peers: { endpoints: o.catchUp.peers, tls: o.catchUp.tls } };
    const keys = { client: o.client, keys: this.#keys, nodeName: o.nodeName };
    this.#handOver = createHandOver({ ...keys, local: () => this.#sequencer, ...peers });
    this.#ordering = new CommandOrdering({
      ...keys,
      submitter,
      handOver: (command) => this.#handOver.handOver(command),
      ...(o.appendTimeoutMs !== undefined ? { appendTimeoutMs: o.appendTimeoutMs } : {}),
    });
    this.#publication = new CheckpointPublication({
      client: o.client,
      prefix: o.prefix,
      nodeName: o.nodeName,
      storage: o.storage,
      ledger: this.#ledger,
      logKey,
      policy: o.policy,
      memory: this.#memory,
      cosign: o.cosign ?? ownGuardedCosign(o.storage),
      offline,
      submitter,
      pollMs: Math.min(1000, intervalMs),
      ...(o.logSigner !== undefined ? { logSigner: o.logSigner } : {}),
      ...(o.cosigner !== undefined ? { cosigner: o.cosigner } : {}),
      ...(o.onCheckpoint !== undefined ? { onCheckpoint: o.onCheckpoint } : {}),
      ...(o.onError !== undefined ? { onError: o.onError } : {}),
    });
    this.#replica = new ReplicaApply({
      client: o.client,
      keys: this.#keys,
      nodeName: o.nodeName,
      state: this.#state,
      offline,
      apply: (batch, position) => {
        this.#apply(batch, position);
      },
      ownRootAt: (size) => this.#ledger.root(size),
      logKey,
      policy: o.policy,
      ...(o.catchUp !== undefined ? { catchUp: o.catchUp } : {}),
      onStopped: (failure, error) => {
        // A copy the next batch did not fit (CLUSTER_APPLY_FAILED: its last entry rows deleted, say) is
        // what the integrity repair mends, and the replica then follows again (`ledgerRepaired`): the
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
      ...(o.onError !== undefined ? { onError: o.onError } : {}),
    });
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
   * copy and starts it again (`ledgerRepaired`), so a request waiting for this node to catch up keeps
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

  /**
   * ledger.db was repaired underneath: the head (compact range, last leaf) is read again from it, and a
   * replica that stopped on the damaged copy (CLUSTER_APPLY_FAILED) follows the log again.
   */
  ledgerRepaired(): void {
    this.#state.reloadHead();
    this.#replica.restartIfStopped();
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

  // ——— read port (this node's own copy) ———

  size(): number {
    return this.#o.storage.size();
  }
  get origin(): string {
    return this.#o.storage.origin;
  }
  entry(index: number): Uint8Array {
    return this.#o.storage.entry(index).entry;
  }
  leafHash(index: number): Uint8Array {
    return storedLeafHash(this.#o.storage, index);
  }
  findByLeafHash(leafHash: Uint8Array): number[] {
    return this.#o.storage.findByLeafHash(leafHash);
  }
  findByKey(key: string): number[] {
    return this.#o.storage.findByKey(key);
  }
  keyedLeafHashes(key: string): { readonly index: number; readonly leafHash: Uint8Array }[] {
    return keyedLeafHashes(this.#o.storage, key);
  }
  keyedLeafHashesOf(
    keys: readonly string[],
  ): Map<string, { readonly index: number; readonly leafHash: Uint8Array }[] | null> {
    return keyedLeafHashesOf(this.#o.storage, keys);
  }
  entriesAt(indices: readonly number[]): Map<number, Uint8Array> {
    return entriesAt(this.#o.storage, indices);
  }
  latestByKey(key: string, limit: number, before?: number): number[] {
    return this.#o.storage.latestByKey(key, limit, before);
  }
  findRecord(recordHash: Uint8Array): { index: number; position: number }[] {
    return this.#o.storage.findRecord(recordHash);
  }
  recordHashes(index: number): Uint8Array[] {
    return this.#o.storage.recordHashes(index);
  }
  inclusionProof(index: number, size: number): InclusionProofJson {
    return this.#ledger.inclusionProof(index, size);
  }
  consistencyProof(from: number, to: number): ConsistencyProofJson {
    return this.#ledger.consistencyProof(from, to);
  }
  fsck(logKey: VerifierKey): FsckResult {
    return fsck(this.#o.storage, logKey);
  }
  /** Root of this node's own copy at `size`. */
  root(size?: number): Uint8Array {
    return this.#ledger.root(size);
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
