/**
 * The embedded node's write port (`write-port.ts`): one publisher per process that gathers every
 * concurrent append into group commits and signs checkpoints on a cadence.
 *
 * **Group commit.** Calls queue; a batch closes at {@link GROUP_COMMIT_MAX_ENTRIES} entries or
 * {@link GROUP_COMMIT_MAX_DELAY_MS} after the first call, and is written under the ledger file's write
 * lock as one transaction — one fsync (WAL, synchronous=FULL) for all of it. Each call's promise settles
 * after that commit, so nothing is acknowledged before it is durable.
 *
 * **State change and entries together.** A call's state command is applied in the same atomic step as
 * its entries: a batch that carries commands is decided in service.db first (the outbox), and whatever a
 * crash left there is appended at the next batch or start — see `outbox-commit.ts` for how and why an
 * outbox rather than ATTACH.
 *
 * **Checkpoints on a cadence.** After a batch commits, a checkpoint is signed in the same transaction when
 * someone waits for one covering its entries or {@link CHECKPOINT_INTERVAL_MS} has passed since the last;
 * otherwise a timer signs within that interval. So at most one per batch, at least one per interval while
 * entries are unsigned. `Ledger.signCheckpoint` checks consistency with the last signed one first.
 */
import type { NoteSigner } from "../crypto/note-signer.js";
import { LedgerError } from "./errors.js";
import { Ledger } from "./ledger.js";
import type { LogStorage } from "./log-storage.js";
import { nodeHasher } from "./node-hasher.js";
import type { Outbox } from "./outbox.js";
import { OutboxCommit } from "./outbox-commit.js";
import type { LedgerReader } from "./read-port.js";
import { checkRequests, LocalOrder, type CheckedRequest } from "./sequencer.js";
import { StoredLogReader } from "./stored-log-reader.js";
import {
  CHECKPOINT_INTERVAL_MS,
  GROUP_COMMIT_MAX_DELAY_MS,
  GROUP_COMMIT_MAX_ENTRIES,
  type AppendOptions,
  type AppendRequest,
  type AppendResult,
  type CheckpointPublished,
  type LedgerWritePort,
  type PublishedCheckpoint,
  type StateCommand,
} from "./write-port.js";

/** The write port and the read port of one node, as the service holds them. */
export type LedgerPort = LedgerWritePort & LedgerReader;

/** Options of {@link EmbeddedLedger}. */
export interface EmbeddedLedgerOptions {
  readonly storage: LogStorage;
  readonly signer: NoteSigner;
  /** Where state changes and their entries are made atomic; without it, commands are refused. */
  readonly outbox?: Outbox;
  /**
   * Applies `command`s (bound to the outbox's database by the node); without it, commands are refused.
   * Runs inside the batch's service-database transaction, in a savepoint per call.
   */
  readonly applyCommand?: (command: StateCommand, results: readonly AppendResult[]) => void;
  readonly maxBatchEntries?: number;
  readonly maxDelayMs?: number;
  readonly checkpointIntervalMs?: number;
  /**
   * Called with each checkpoint this publisher signs, after it is stored (outside the transaction).
   * The node time-stamps checkpoints here (RFC 3161); a throwing hook does not affect the ledger.
   */
  readonly onCheckpoint?: CheckpointPublished;
}

interface Pending {
  readonly requests: readonly CheckedRequest[];
  readonly command: StateCommand | undefined;
  readonly resolve: (results: AppendResult[]) => void;
  readonly reject: (error: unknown) => void;
}

interface Waiter {
  readonly index: number;
  readonly resolve: (cp: PublishedCheckpoint) => void;
  readonly reject: (error: unknown) => void;
}

/** The single-node publisher. */
/** Its reads are {@link StoredLogReader}'s over the same storage; this class adds the write path. */
export class EmbeddedLedger extends StoredLogReader implements LedgerPort {
  readonly #ledger: Ledger;
  readonly #storage: LogStorage;
  readonly #signer: NoteSigner;
  readonly #write: OutboxCommit;
  readonly #order: LocalOrder;
  readonly #maxEntries: number;
  readonly #maxDelayMs: number;
  readonly #intervalMs: number;
  readonly #onCheckpoint: CheckpointPublished | undefined;
  /** A checkpoint was signed and not yet announced to {@link EmbeddedLedgerOptions.onCheckpoint}. */
  #unannounced = false;
  #queue: Pending[] = [];
  #queuedEntries = 0;
  #batchTimer: NodeJS.Timeout | undefined;
  #checkpointTimer: NodeJS.Timeout | undefined;
  #waiters: Waiter[] = [];
  #lastSignedAt = -Infinity;
  #closed = false;
  /** Batches committed and checkpoints signed by this process (for tests and benchmarks). */
  readonly stats = { batches: 0, entries: 0, checkpoints: 0, replayed: 0 };

  constructor(options: EmbeddedLedgerOptions) {
    if (options.signer.verifierKey !== options.storage.verifierKey) {
      throw new LedgerError("LEDGER_VERIFIER_KEY_INVALID", "この台帳の署名鍵ではありません", {
        name: options.signer.name,
      });
    }
    const ledger = new Ledger({ storage: options.storage });
    super(options.storage, ledger);
    this.#storage = options.storage;
    this.#ledger = ledger;
    this.#signer = options.signer;
    this.#order = new LocalOrder(options.storage, nodeHasher);
    this.#write = new OutboxCommit({
      storage: options.storage,
      order: this.#order,
      outbox: options.outbox,
      applyCommand: options.applyCommand,
    });
    this.#maxEntries = options.maxBatchEntries ?? GROUP_COMMIT_MAX_ENTRIES;
    this.#maxDelayMs = options.maxDelayMs ?? GROUP_COMMIT_MAX_DELAY_MS;
    this.#intervalMs = options.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS;
    this.#onCheckpoint = options.onCheckpoint;
    // Start-up: whatever a crash left in the outbox goes in first, and everything gets signed.
    this.#storage.writeTransaction(() => {
      this.#order.sync();
      this.#replayOutbox();
      if (this.#signedSize() < this.#order.size || this.#storage.latestCheckpoint() === null) this.#sign();
    });
    this.#announce();
  }

  // ——— write port ———

  append(requests: readonly AppendRequest[], options: AppendOptions = {}): Promise<AppendResult[]> {
    // A throw inside the executor (closed, a bad record) rejects the promise: nothing was queued.
    return new Promise((resolve, reject) => {
      if (this.#closed) throw closedError();
      if (options.command !== undefined && !this.#write.acceptsCommands) {
        throw new LedgerError("LEDGER_ENTRY_INVALID", "この台帳には状態変更を伴う追記ができません");
      }
      const checked = checkRequests(requests);
      this.#queue.push({ requests: checked, command: options.command, resolve, reject });
      this.#queuedEntries += checked.length;
      if (this.#queuedEntries >= this.#maxEntries) this.#scheduleBatch(0);
      else this.#scheduleBatch(this.#maxDelayMs);
    });
  }

  checkpointCovering(index: number): Promise<PublishedCheckpoint> {
    if (this.#closed) return Promise.reject(closedError());
    const latest = this.#storage.latestCheckpoint();
    if (latest !== null && latest.size > index) return Promise.resolve(latest);
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.#order.size) {
      return Promise.reject(
        new LedgerError("LEDGER_INDEX_OUT_OF_RANGE", "まだ追記されていないエントリです", {
          index,
          size: this.#order.size,
        }),
      );
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ index, resolve, reject });
      // A batch about to commit signs for the waiter; otherwise sign on the next turn of the loop.
      if (this.#queue.length === 0) this.#scheduleCheckpoint(0);
    });
  }

  latestCheckpoint(): PublishedCheckpoint {
    return this.#ledger.latestCheckpoint();
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    try {
      while (this.#queue.length > 0) this.#commitBatch();
      if (this.#signedSize() < this.#order.size)
        this.#storage.writeTransaction(() => {
          this.#sign();
        });
      this.#announce();
    } finally {
      this.#closed = true;
      clearTimeout(this.#batchTimer);
      clearTimeout(this.#checkpointTimer);
      for (const w of this.#waiters.splice(0)) w.reject(closedError());
      this.#storage.close();
    }
    return Promise.resolve();
  }

  // ——— the publisher ———

  #scheduleBatch(delayMs: number): void {
    if (this.#batchTimer !== undefined) {
      if (delayMs > 0) return;
      clearTimeout(this.#batchTimer);
    }
    this.#batchTimer = setTimeout(() => {
      this.#batchTimer = undefined;
      this.#commitBatch();
      if (this.#queue.length > 0)
        this.#scheduleBatch(this.#queuedEntries >= this.#maxEntries ? 0 : this.#maxDelayMs);
    }, delayMs);
  }

  #scheduleCheckpoint(delayMs: number): void {
    if (this.#checkpointTimer !== undefined) {
      if (delayMs > 0) return;
      clearTimeout(this.#checkpointTimer);
    }
    this.#checkpointTimer = setTimeout(() => {
      this.#checkpointTimer = undefined;
      if (this.#closed) return;
      try {
        this.#storage.writeTransaction(() => {
          this.#order.sync();
          this.#replayOutbox();
          if (this.#signedSize() < this.#order.size) this.#sign();
        });
        this.#announce();
        this.#settleWaiters();
      } catch (error) {
        // Signing failed (disk, another writer's inconsistent head): waiters learn it; retry later.
        for (const w of this.#waiters.splice(0)) w.reject(error);
        this.#scheduleCheckpoint(this.#intervalMs);
      }
    }, delayMs);
  }

  /** Takes up to the batch size of queued calls and commits them (synchronously). */
  #commitBatch(): void {
    const batch: Pending[] = [];
    let entries = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0] as Pending;
      if (batch.length > 0 && entries + next.requests.length > this.#maxEntries) break;
      batch.push(next);
      entries += next.requests.length;
      this.#queue.shift();
    }
    this.#queuedEntries -= entries;
    if (batch.length === 0) return;

    const failed = new Map<Pending, unknown>();
    let results: Map<Pending, AppendResult[]>;
    let signed = false;
    try {
      [results, signed] = this.#storage.writeTransaction(() => {
        this.#order.sync();
        const committedSize = this.#order.size;
        this.#replayOutbox();
        const outcome = this.#write.write(batch, failed, committedSize);
        // The batch does not depend on its checkpoint: a failed signature (its own savepoint) leaves the
        // entries to commit and is tried again by the timer.
        let sign = this.#shouldSign();
        if (sign) {
          try {
            this.#storage.writeTransaction(() => {
              this.#sign();
            });
          } catch {
            sign = false;
          }
        }
        return [outcome, sign] as const;
      });
    } catch (error) {
      this.#order.reload();
      this.#unannounced = false;
      for (const p of batch) p.reject(failed.get(p) ?? error);
      return;
    }
    this.#announce();
    this.stats.batches++;
    this.stats.entries += entries;
    for (const p of batch) {
      const r = results.get(p);
      if (r === undefined) p.reject(failed.get(p));
      else p.resolve(r);
    }
    if (signed) this.#settleWaiters();
    if (this.#signedSize() < this.#order.size) this.#scheduleCheckpoint(this.#untilIntervalMs());
  }

  /** Appends what a crash left in the outbox (caller holds the write lock). */
  #replayOutbox(): void {
    this.stats.replayed += this.#write.replay();
  }

  #shouldSign(): boolean {
    if (this.#signedSize() >= this.#order.size) return false;
    if (this.#waiters.some((w) => w.index < this.#order.size)) return true;
    return this.#untilIntervalMs() === 0;
  }

  #untilIntervalMs(): number {
    return Math.max(0, Math.ceil(this.#lastSignedAt + this.#intervalMs - performance.now()));
  }

  /** Signs the current head (inside the caller's write transaction). */
  #sign(): void {
    this.#ledger.signCheckpoint(this.#signer);
    this.#lastSignedAt = performance.now();
    this.stats.checkpoints++;
    this.#unannounced = true;
  }

  /** Hands the checkpoint just signed (and committed) to the publication hook. */
  #announce(): void {
    if (!this.#unannounced) return;
    this.#unannounced = false;
    const latest = this.#storage.latestCheckpoint();
    if (this.#onCheckpoint === undefined || latest === null) return;
    try {
      this.#onCheckpoint(latest);
    } catch {
      // The hook's failure (a time-stamp authority down) is the hook's business, not the ledger's.
    }
  }

  #signedSize(): number {
    return this.#storage.latestCheckpoint()?.size ?? -1;
  }

  #settleWaiters(): void {
    const latest = this.#storage.latestCheckpoint();
    if (latest === null) return;
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.index < latest.size) w.resolve(latest);
      else still.push(w);
    }
    this.#waiters = still;
  }
}

function closedError(): LedgerError {
  return new LedgerError("LEDGER_CLOSED", "台帳は閉じられています");
}
