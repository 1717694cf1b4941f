/**
 * The cluster's ledger write port (`ledger/write-port.ts`) on etcd: the service becomes a replicated
 * state machine. How each item of the port's contract is met:
 *
 * - **Order.** `append` turns the call into a command — the records plus the service state change as
 *   data ({@link StateCommand}) — and submits it to the command log on etcd (create-only under a fresh
 *   id, `command-log/submit-command.ts`). The elected sequencer (`command-log/sequencer.ts`, one at a
 *   time through an etcd lease) gathers pending commands into batches, runs them against its own state
 *   first (`ReplicatedState.prepare`: a command whose preconditions fail is refused and nothing of it is
 *   written), and writes the batch with a transaction that compares-and-swaps the log head and checks its
 *   own election key, so a deposed sequencer's late write fails instead of forking the log.
 * - **Durability.** A batch is durable once that etcd transaction commits (a Raft majority fsynced it).
 *   `append` resolves later still: once this node's own replica applied the batch to its ledger.db and
 *   service.db (read-your-writes on the node that took the request), with the indices the batch gave.
 * - **State change and entries together.** Every node — the sequencer, the other online nodes, the
 *   offline node — applies each batch in log order to its own files (`replicated-state.ts`),
 *   idempotently, resuming after a restart from the position kept in its service.db.
 * - **A rejection means nothing was written.** A call the sequencer refused rejects with the refusing
 *   error's code and message. A call that was not ordered in time is withdrawn first (its id marker or
 *   pending record removed in an etcd transaction, so it can never be ordered later) and only then
 *   rejected; if even that cannot be decided (etcd unreachable), it rejects with CLUSTER_UNAVAILABLE and
 *   `outcome: "unknown"`.
 * - **Checkpoints.** The sequencer marks a batch as a checkpoint batch at most every
 *   {@link CHECKPOINT_INTERVAL_MS} while entries are unsigned, and promptly when a node asks
 *   (`checkpointCovering` submits a checkpoint request). After applying a marked batch every node signs the
 *   checkpoint of its own copy with the log key (Ed25519 is deterministic: equal copies, byte-equal
 *   notes), cosigns it with its own witness key after checking it against the root it recomputed
 *   (`checkpoint-cosigner.ts`), and offers it through etcd (`cosign-exchange.ts`). It is *published* once
 *   the quorum of online nodes cosigned; `checkpointCovering` and `latestCheckpoint` only ever return
 *   published checkpoints this node's copy covers.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Etcd3 } from "etcd3";
import { CodedError } from "../coded-error.js";
import type { NoteSigner } from "../crypto/note-signer.js";
import { LedgerError } from "../ledger/errors.js";
import { fsck, type FsckResult } from "../ledger/fsck.js";
import { Ledger, type ConsistencyProofJson, type InclusionProofJson } from "../ledger/ledger.js";
import type { LogStorage } from "../ledger/log-storage.js";
import type { LedgerReader } from "../ledger/read-port.js";
import { checkRequests } from "../ledger/sequencer.js";
import { openPublishedCheckpoint, type CosignerPolicy } from "../ledger/verify/published-checkpoint.js";
import { parseVerifierKey, type VerifierKey } from "../ledger/verify/verifier-key.js";
import {
  CHECKPOINT_INTERVAL_MS,
  type AppendOptions,
  type AppendRequest,
  type AppendResult,
  type CheckpointPublished,
  type LedgerWritePort,
  type PublishedCheckpoint,
} from "../ledger/write-port.js";
import type { ServiceDb } from "../store/service-db.js";
import { logKeys, type Command, type LogKeys, type RefusedCommand } from "./command-log/command-batch.js";
import { startFollower, type RunningFollower } from "./command-log/log-follower.js";
import { startSequencer, type RunningSequencer } from "./command-log/sequencer.js";
import { createGroupedSubmitter, type GroupedSubmitter } from "./command-log/submit-command.js";
import { CosignerMemory } from "./cosigner-memory.js";
import { offerCosignature, publishIfQuorum } from "./cosign-exchange.js";
import { cosignCheckpoint } from "./checkpoint-cosigner.js";
import { ClusterError } from "./errors.js";
import { catchUpFromPeers, type CatchUpResult } from "./log-catch-up.js";
import { logPeerRoute } from "./log-peer-route.js";
import type { PeerEndpoint } from "./peer/peer-client.js";
import type { PeerRoute, PeerTls } from "./peer/peer-server.js";
import { ReplicatedState, type AppliedBatch } from "./replicated-state.js";
import { CHECKPOINT_REQUEST, LEDGER_APPEND, type ApplyCommand } from "./state-command.js";

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
  /** Pinned cosigners of the online nodes and how many must cosign a published checkpoint. */
  readonly policy: CosignerPolicy;
  /** The offline backup node: applies the log from its own etcd learner (serializable reads), no writes. */
  readonly offline?: boolean;
  readonly leaseTtlSeconds?: number;
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

interface CheckpointWaiter {
  readonly index: number;
  readonly resolve: (cp: PublishedCheckpoint) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

/** Minimum spacing of checkpoint batches asked for by checkpoint requests. */
const CHECKPOINT_REQUEST_SPACING_MS = 100;
const CHECKPOINT_WAIT_MS = 30_000;

function closedError(): ClusterError {
  return new ClusterError("CLUSTER_UNAVAILABLE", "台帳は閉じられています", { closed: true });
}

export class ClusterLedger implements LedgerWritePort, LedgerReader {
  readonly nodeName: string;
  readonly #o: ClusterLedgerOptions;
  readonly #keys: LogKeys;
  readonly #ledger: Ledger;
  readonly #state: ReplicatedState;
  readonly #logKey: VerifierKey;
  readonly #memory: CosignerMemory;
  readonly #intervalMs: number;
  readonly #submitter: GroupedSubmitter;
  readonly #waiting = new Map<string, Waiting>();
  #checkpointWaiters: CheckpointWaiter[] = [];
  #follower: RunningFollower | undefined;
  #sequencer: RunningSequencer | undefined;
  #published: PublishedCheckpoint | undefined;
  /** A published note this copy does not reach yet. */
  #ahead: PublishedCheckpoint | undefined;
  #lastFlagAt = 0;
  #checkpointRequest: string | undefined;
  #cosigning: Promise<void> = Promise.resolve();
  #poller: NodeJS.Timeout | undefined;
  #closed = false;
  readonly stats = { applied: 0, cosigned: 0, published: 0, refused: 0, caughtUp: 0 };
  /** The last catch-up from peers: which peer served it and which were refused, with why. */
  lastCatchUp: CatchUpResult | undefined;

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
    this.#logKey = parseVerifierKey(vkey);
    this.#memory = new CosignerMemory(o.db);
    this.#intervalMs = o.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS;
    this.#submitter = createGroupedSubmitter(o.client, this.#keys, {
      maxDelayMs: 2,
      ...(o.maxTxnOps !== undefined ? { maxTxnOps: o.maxTxnOps } : {}),
    });
    const kept = this.#memory.published();
    if (kept !== undefined) this.#learn(kept, false);
  }

  /** Starts following the log (and, on an online node, standing for sequencer). */
  start(): this {
    this.#startFollower();
    this.#startSequencer();
    // The published key is read now and then (and often while someone waits for a checkpoint).
    const poll = (): void => {
      this.#poller = setTimeout(
        () => {
          void this.#pollPublished().finally(() => {
            if (!this.#closed) poll();
          });
        },
        this.#checkpointWaiters.length > 0 ? 50 : Math.min(1000, this.#intervalMs),
      );
    };
    poll();
    return this;
  }

  /** What this node serves peers that etcd can no longer serve (mount on the peer endpoint). */
  peerRoute(): PeerRoute {
    return logPeerRoute({
      batchesFrom: (from, limit) => this.#state.batchesFrom(from, limit),
      published: () => this.#published,
      consistencyProof: (from, to) => this.#ledger.consistencyProof(from, to).proof,
    });
  }

  #startFollower(): void {
    const o = this.#o;
    this.#follower = startFollower({
      client: o.client,
      keys: this.#keys,
      nodeName: o.nodeName,
      from: this.#state.position(),
      idleWaitMs: o.offline === true ? 250 : 1000,
      reportProgress: o.offline !== true,
      serializable: o.offline === true,
      apply: (batch, position) => {
        const applied = this.#state.apply(batch, position);
        if (applied !== undefined) this.#applied(applied, batch.commands);
      },
      onError: (error) => {
        o.onError?.(error);
        const failure = this.#follower?.failure();
        if (failure?.code === "CLUSTER_LOG_TRIMMED" && o.catchUp !== undefined) {
          this.#catchUpLater(0);
          return;
        }
        if (failure !== undefined) {
          this.#failAll(
            new ClusterError(
              "CLUSTER_UNAVAILABLE",
              "このノードはコマンドログを適用できなくなりました",
              { outcome: "unknown" },
              { cause: error },
            ),
          );
        }
      },
    });
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
            keys: this.#keys,
            position: () => this.#state.position(),
            apply: (batch, position) => {
              const applied = this.#state.apply(batch, position);
              if (applied !== undefined) this.#applied(applied, batch.commands);
            },
            ownRootAt: (size) => this.#ledger.root(size),
            logKey: this.#logKey,
            policy: o.policy,
            peers: catchUp.peers,
            tls: catchUp.tls,
            serializable: o.offline === true,
          });
          this.stats.caughtUp += result.applied;
          this.lastCatchUp = result;
          if (!this.#closed) this.#startFollower();
        } catch (error) {
          o.onError?.(error);
          this.#catchUpLater(2000);
        }
      })();
    }, delayMs);
  }

  #startSequencer(): void {
    const o = this.#o;
    if (o.offline !== true && o.cosigner !== undefined) {
      this.#sequencer = startSequencer({
        client: o.client,
        keys: this.#keys,
        nodeName: o.nodeName,
        leaseTtlSeconds: o.leaseTtlSeconds ?? 2,
        idleWaitMs: Math.min(200, this.#intervalMs),
        ...(o.maxTxnOps !== undefined ? { maxTxnOps: o.maxTxnOps } : {}),
        ...(o.onError !== undefined ? { onError: o.onError } : {}),
        // The batch just committed in etcd is applied here at once (the follower finds it applied), so
        // the next batch can be prepared without waiting for the watch and the read back.
        onAppend: (position, _commands, batch) => {
          const p = this.#state.position();
          if (p.seq !== batch.seq - 1 || p.hash !== batch.prev) return;
          try {
            const applied = this.#state.apply(batch, position);
            if (applied !== undefined) this.#applied(applied, batch.commands);
          } catch (error) {
            // The follower applies it (or stops on the same error) when it reads the batch back.
            o.onError?.(error);
          }
        },
        prepare: async (head, commands) => {
          const follower = this.#follower;
          if (follower !== undefined && this.#state.position().seq < head.seq) {
            await follower.waitFor(head.seq, 5000).catch(() => undefined);
          }
          const prepared = this.#state.prepare(head, commands);
          if (prepared === undefined) return undefined;
          const now = Date.now();
          const entries = prepared.accepted.some((c) => (c.body as { type?: string }).type === LEDGER_APPEND);
          const due =
            (prepared.checkpoint && now - this.#lastFlagAt >= CHECKPOINT_REQUEST_SPACING_MS) ||
            (entries && now - this.#lastFlagAt >= this.#intervalMs);
          if (due) this.#lastFlagAt = now;
          return { ...prepared, checkpoint: due };
        },
        idleCheckpoint: (head) => {
          const p = this.#state.position();
          if (p.seq !== head.seq) return false;
          const signed = this.#o.storage.latestCheckpoint()?.size ?? 0;
          const wanted =
            this.#checkpointWaiters.length > 0 || Date.now() - this.#lastFlagAt >= this.#intervalMs;
          if (p.ledgerSize <= signed || !wanted) return false;
          this.#lastFlagAt = Date.now();
          return true;
        },
      });
    }
  }

  /** This node's position in the log, whether it is the sequencer now, and the published size. */
  status(): { seq: number; ledgerSize: number; sequencer: boolean; published: number; cosigned: number } {
    const p = this.#state.position();
    return {
      seq: p.seq,
      ledgerSize: p.ledgerSize,
      sequencer: this.#sequencer?.isLeader() ?? false,
      published: this.#published?.size ?? 0,
      cosigned: this.#memory.last()?.size ?? 0,
    };
  }

  /** The error that stopped this node's replica, if one did (e.g. CLUSTER_LOG_TRIMMED). */
  failure(): ClusterError | undefined {
    return this.#follower?.failure();
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
    const body = {
      type: LEDGER_APPEND,
      requests,
      ...(options.command !== undefined ? { command: options.command } : {}),
    };
    return this.#order(body).then((results) => [...results]);
  }

  checkpointCovering(index: number): Promise<PublishedCheckpoint> {
    if (this.#closed) return Promise.reject(closedError());
    const size = this.#o.storage.size();
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      return Promise.reject(
        new LedgerError("LEDGER_INDEX_OUT_OF_RANGE", "まだ追記されていないエントリです", { index, size }),
      );
    }
    const published = this.#published;
    if (published !== undefined && published.size > index) return Promise.resolve(published);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#checkpointWaiters = this.#checkpointWaiters.filter((w) => w.timer !== timer);
        reject(
          new ClusterError("CLUSTER_WAIT_TIMEOUT", "公開チェックポイントを待てませんでした", {
            index,
            published: this.#published?.size ?? 0,
          }),
        );
      }, CHECKPOINT_WAIT_MS);
      this.#checkpointWaiters.push({ index, resolve, reject, timer });
      this.#requestCheckpoint();
    });
  }

  latestCheckpoint(): PublishedCheckpoint {
    if (this.#published === undefined) {
      throw new LedgerError("LEDGER_CHECKPOINT_MISSING", "公開済みのチェックポイントがありません");
    }
    return this.#published;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#poller);
    await this.#sequencer?.stop();
    await this.#follower?.stop();
    await this.#cosigning;
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
    return this.#o.storage.entry(index).leafHash;
  }
  findByLeafHash(leafHash: Uint8Array): number[] {
    return this.#o.storage.findByLeafHash(leafHash);
  }
  findByKey(key: string): number[] {
    return this.#o.storage.findByKey(key);
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

  // ——— ordering ———

  /** Submits a command and resolves once this node applied the batch that ordered it. */
  async #order(body: unknown): Promise<readonly AppendResult[]> {
    const id = randomBytes(16).toString("base64url");
    const command: Command = { id, origin: this.#o.nodeName, body };
    const outcome = new Promise<readonly AppendResult[]>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
    });
    outcome.catch(() => undefined);
    const timeoutMs = this.#o.appendTimeoutMs ?? 20_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.#submitter.submit(command);
        break;
      } catch (error) {
        if (
          !(error instanceof ClusterError) ||
          error.code !== "CLUSTER_UNAVAILABLE" ||
          Date.now() > deadline
        ) {
          return this.#withdraw(id, outcome, error);
        }
        await sleep(200);
      }
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

  /**
   * A command not ordered in time: make sure it never will be (id marker taken, or pending record
   * removed), then reject; if it was ordered meanwhile, wait for its outcome after all.
   */
  async #withdraw(
    id: string,
    outcome: Promise<readonly AppendResult[]>,
    cause: unknown,
  ): Promise<readonly AppendResult[]> {
    const c = this.#o.client;
    const notWritten = (): never => {
      this.#waiting.delete(id);
      throw new ClusterError(
        "CLUSTER_UNAVAILABLE",
        "クラスタが応答しないため記録できませんでした",
        { outcome: "not-written" },
        { cause },
      );
    };
    try {
      const deadline = { deadline: Date.now() + 5000 };
      const marker = await c
        .if(this.#keys.ids + id, "Version", "==", 0)
        .then(c.put(this.#keys.ids + id).value("withdrawn"))
        .options(deadline)
        .commit();
      if (marker.succeeded) return notWritten();
      const pending = await c
        .if(this.#keys.pending + id, "Version", ">", 0)
        .then(c.delete().key(this.#keys.pending + id))
        .options(deadline)
        .commit();
      if (pending.succeeded) return notWritten();
    } catch (error) {
      this.#waiting.delete(id);
      throw new ClusterError(
        "CLUSTER_UNAVAILABLE",
        "クラスタが応答しないため記録できたか分かりません",
        { outcome: "unknown" },
        { cause: error },
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

  /** After this node applied a batch: settle who waited on its commands; cosign a checkpoint batch. */
  #applied(applied: AppliedBatch, commands: readonly Command[]): void {
    this.stats.applied++;
    for (const c of commands) {
      if (c.id === this.#checkpointRequest) this.#checkpointRequest = undefined;
      const w = this.#waiting.get(c.id);
      if (w === undefined) continue;
      this.#waiting.delete(c.id);
      w.resolve(applied.results.get(c.id) ?? []);
    }
    for (const r of applied.refused) {
      this.stats.refused++;
      if (r.id === this.#checkpointRequest) this.#checkpointRequest = undefined;
      const w = this.#waiting.get(r.id);
      if (w === undefined) continue;
      this.#waiting.delete(r.id);
      w.reject(new RefusedCommandError(r.error));
    }
    if (applied.checkpoint) {
      this.#lastFlagAt = Math.max(this.#lastFlagAt, Date.now());
      this.#signAndCosign();
    }
    if (this.#ahead !== undefined) this.#learn(this.#ahead.note, true);
    if (this.#checkpointWaiters.length > 0 && this.#checkpointRequest === undefined)
      this.#requestCheckpoint();
  }

  #requestCheckpoint(): void {
    if (this.#checkpointRequest !== undefined || this.#closed || this.#o.offline === true) return;
    const signed = this.#o.storage.latestCheckpoint()?.size ?? 0;
    if (this.#checkpointWaiters.every((w) => w.index < signed)) return;
    const id = randomBytes(16).toString("base64url");
    this.#checkpointRequest = id;
    this.#submitter.submit({ id, origin: this.#o.nodeName, body: { type: CHECKPOINT_REQUEST } }).catch(() => {
      if (this.#checkpointRequest === id) this.#checkpointRequest = undefined;
    });
  }

  // ——— checkpoints ———

  /** Signs this copy's checkpoint and, on an online node, cosigns and offers it (in order, in the background). */
  #signAndCosign(): void {
    const o = this.#o;
    if (o.storage.size() === 0 || o.logSigner === undefined) return;
    let note: string;
    try {
      note = this.#ledger.signCheckpoint(o.logSigner).note;
    } catch (error) {
      o.onError?.(error);
      return;
    }
    const cosigner = o.cosigner;
    if (cosigner === undefined || o.offline === true) return;
    const size = o.storage.size();
    // Catching up past what is already published: those sizes need no more cosignatures.
    if (this.#published !== undefined && size <= this.#published.size) return;
    let line: string;
    try {
      const cosigned = cosignCheckpoint({
        note,
        logKey: this.#logKey,
        cosigner,
        ownSize: size,
        ownRootAt: (s) => this.#ledger.root(s),
        last: this.#memory.last(),
      });
      // Kept before it is offered: a node never cosigns two inconsistent heads, even across a crash.
      this.#memory.remember(cosigned.state);
      line = cosigned.line;
    } catch (error) {
      o.onError?.(error);
      return;
    }
    this.stats.cosigned++;
    this.#cosigning = this.#cosigning.then(async () => {
      try {
        const offered = await offerCosignature(o.client, o.prefix, { node: o.nodeName, note, line });
        if (offered !== "offered") {
          o.onError?.(
            new ClusterError("CLUSTER_COSIGN_REFUSED", "他ノードと異なるチェックポイントです", { size }),
          );
          return;
        }
        const published = await publishIfQuorum(o.client, o.prefix, {
          size,
          logKey: this.#logKey,
          policy: o.policy,
        });
        if (published !== undefined) this.#learn(published.note, true);
      } catch (error) {
        o.onError?.(error);
      }
    });
  }

  async #pollPublished(): Promise<void> {
    try {
      const note = await this.#o.client
        .get(`${this.#o.prefix}published`)
        .serializable(this.#o.offline === true)
        .options({ deadline: Date.now() + 2000 })
        .string();
      if (note !== null) this.#learn(note, true);
    } catch {
      // etcd unreachable: the last published checkpoint this node knows stays its answer.
    }
  }

  /** Takes a published note when it verifies under the pinned policy and this copy reaches it. */
  #learn(note: string, keep: boolean): void {
    let size: number;
    let root: Uint8Array;
    try {
      ({ size, root } = openPublishedCheckpoint(note, this.#logKey, this.#o.policy).checkpoint);
    } catch (error) {
      this.#o.onError?.(error);
      return;
    }
    if (this.#published !== undefined && size <= this.#published.size) return;
    const cp = { size, root, note };
    if (size > this.#o.storage.size()) {
      this.#ahead = cp;
      return;
    }
    // Our own copy must have that root at that size: a published head we cannot reproduce is not ours.
    if (!Buffer.from(this.#ledger.root(size)).equals(Buffer.from(root))) {
      this.#o.onError?.(
        new ClusterError("CLUSTER_COSIGN_REFUSED", "公開チェックポイントがこのノードの台帳と一致しません", {
          size,
        }),
      );
      return;
    }
    this.#published = cp;
    if (this.#ahead !== undefined && this.#ahead.size <= size) this.#ahead = undefined;
    this.stats.published++;
    if (this.#o.logSigner === undefined) this.#keepLogSigned(cp);
    if (keep) {
      this.#memory.rememberPublished(note);
      try {
        this.#o.onCheckpoint?.(cp);
      } catch (error) {
        this.#o.onError?.(error);
      }
    }
    const still: CheckpointWaiter[] = [];
    for (const w of this.#checkpointWaiters) {
      if (w.index < size) {
        clearTimeout(w.timer);
        w.resolve(cp);
      } else still.push(w);
    }
    this.#checkpointWaiters = still;
  }

  /** Without the log key: store the log-signed part of a published checkpoint this copy reproduces. */
  #keepLogSigned(cp: PublishedCheckpoint): void {
    const cut = cp.note.indexOf("\n\n") + 2;
    const own = cp.note
      .slice(cut)
      .split("\n")
      .filter((line) => line.startsWith(`\u2014 ${this.#logKey.name} `));
    const note = `${cp.note.slice(0, cut)}${own.join("\n")}\n`;
    try {
      this.#o.storage.saveCheckpoint((latest) =>
        latest !== null && latest.size >= cp.size ? null : { size: cp.size, root: cp.root, note },
      );
    } catch (error) {
      this.#o.onError?.(error);
    }
  }

  #failAll(error: unknown): void {
    for (const [id, w] of this.#waiting) {
      this.#waiting.delete(id);
      w.reject(error);
    }
    for (const w of this.#checkpointWaiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(error);
    }
  }
}
