/**
 * How the embedded node writes one batch (inside the ledger transaction its publisher holds), and the
 * replay of what a crash left half-written.
 *
 * **State change and entries together — why an outbox, not ATTACH.** service.db and ledger.db are two
 * SQLite files in WAL mode. SQLite makes a transaction across ATTACHed files atomic only with a rollback
 * journal: "if the journal_mode is WAL, then transactions continue to be atomic within each individual
 * database file", but a crash during COMMIT can leave one file with the change and the other without
 * (https://www.sqlite.org/lang_attach.html), which is exactly the orphan we must rule out; giving up WAL
 * would make every reader wait for every writer. So a batch with state commands is decided in service.db:
 * the state changes and the batch's ordered entries (indices, bytes, index keys) are one service.db
 * transaction (the outbox, `outbox.ts`), committed while this process holds the ledger's write lock, so
 * the indices cannot be taken by another writer; then the entries are appended to ledger.db. A batch
 * without state commands skips the outbox (one fsync).
 *
 * **Replay.** A crash between the two commits leaves entries in the outbox at indices ≥ the ledger's
 * size; whoever takes the write lock next (the next batch, the next start, `kenshin admin`) appends
 * exactly those bytes at exactly those indices first (idempotent: entries below the ledger's size are
 * only deleted, after checking they are the ones stored). A crash before the service.db commit leaves
 * nothing at all.
 */
import { LedgerError } from "./errors.js";
import type { EntryToAppend, LogStorage } from "./log-storage.js";
import { nodeHasher } from "./node-hasher.js";
import type { Outbox, OutboxEntry } from "./outbox.js";
import type { CheckedRequest, LocalOrder, StagedBatch } from "./sequencer.js";
import { bytesEqual, fromUtf8, toHex } from "./verify/encoding.js";
import type { AppendResult, StateCommand } from "./write-port.js";

/** One append call of a batch: its checked records and the state command they record, if any. */
export interface BatchCall {
  readonly requests: readonly CheckedRequest[];
  readonly command: StateCommand | undefined;
}

export interface OutboxCommitOptions {
  readonly storage: LogStorage;
  /** The publisher's view of the ledger's head (staged batches advance it). */
  readonly order: LocalOrder;
  readonly outbox?: Outbox | undefined;
  /** Applies a call's command to the outbox's database (inside its transaction, in a savepoint). */
  readonly applyCommand?: ((command: StateCommand, results: readonly AppendResult[]) => void) | undefined;
}

export class OutboxCommit {
  readonly #storage: LogStorage;
  readonly #order: LocalOrder;
  readonly #outbox: Outbox | undefined;
  readonly #applyCommand: ((command: StateCommand, results: readonly AppendResult[]) => void) | undefined;

  constructor(o: OutboxCommitOptions) {
    this.#storage = o.storage;
    this.#order = o.order;
    this.#outbox = o.outbox;
    this.#applyCommand = o.applyCommand;
  }

  /** Whether calls with a state command can be written (an outbox and an applier are there). */
  get acceptsCommands(): boolean {
    return this.#outbox !== undefined && this.#applyCommand !== undefined;
  }

  /**
   * Runs the state commands (each in its own savepoint), orders the entries of the calls that went
   * through, and writes them — via the outbox when any call changes state — inside the ledger
   * transaction the caller holds. A call whose command refused is put in `failed` with its error and
   * gets no entries.
   */
  write<P extends BatchCall>(
    batch: readonly P[],
    failed: Map<P, unknown>,
    committedSize: number,
  ): Map<P, AppendResult[]> {
    let results = new Map<P, AppendResult[]>();
    const stage = (): StagedBatch => {
      results = new Map();
      const accepted = batch.filter((p) => !failed.has(p));
      const staged = this.#order.stage(accepted.flatMap((p) => p.requests));
      let at = 0;
      for (const p of accepted) {
        results.set(p, staged.results.slice(at, at + p.requests.length));
        at += p.requests.length;
      }
      return staged;
    };
    const outbox = this.#outbox;
    const apply = this.#applyCommand;
    if (outbox === undefined || apply === undefined || batch.every((p) => p.command === undefined)) {
      this.#storage.appendBatch(stage());
      return results;
    }
    // The decision point: state changes and the ordered entries commit together in service.db. When a
    // command refuses, the attempt is rolled back and made again without that call (its indices would
    // otherwise be a gap), so every state change that commits saw its entries' final indices.
    for (;;) {
      try {
        outbox.transaction(() => {
          this.#forgetApplied(outbox, committedSize);
          const staged = stage();
          for (const [p, r] of results) {
            const command = p.command;
            if (command === undefined) continue;
            try {
              outbox.savepoint(() => {
                apply(command, r);
              });
            } catch (error) {
              failed.set(p, error);
              throw RETRY;
            }
          }
          this.#storage.appendBatch(staged);
          outbox.put(staged.entries.map((e, i) => toOutboxEntry(e, staged.firstIndex + i)));
        });
        return results;
      } catch (error) {
        if (error !== RETRY) throw error;
        this.#order.reload();
      }
    }
  }

  /**
   * Appends outbox entries a crashed writer left at the ledger's end (caller holds the write lock).
   * @returns how many entries were appended
   * @throws LedgerError LEDGER_OUTBOX_INVALID when they do not continue the ledger
   */
  replay(): number {
    const outbox = this.#outbox;
    if (outbox === undefined || outbox.isEmpty()) return 0;
    const waiting = outbox.from(this.#order.size);
    if (waiting.length === 0) return 0;
    const firstIndex = this.#order.size;
    const entries = waiting.map((e, i): EntryToAppend => {
      if (e.index !== firstIndex + i) throw outboxInvalid("index", e.index);
      const leafHash = nodeHasher.hashLeaf(e.entry);
      return {
        entry: e.entry,
        leafHash,
        keys: e.keys,
        ...(e.recordHashes ? { recordHashes: e.recordHashes } : {}),
      };
    });
    let prev = this.#order.size === 0 ? null : toHex(this.#storage.node(0, this.#order.size - 1));
    for (const e of entries) {
      const record = JSON.parse(fromUtf8(e.entry, "entry")) as { prev?: unknown };
      if (prev !== null && record.prev !== prev) throw outboxInvalid("prev", firstIndex);
      prev = toHex(e.leafHash);
    }
    const nodes = this.#order.advance(entries);
    this.#storage.appendBatch({ firstIndex, entries, nodes });
    return entries.length;
  }

  /** Deletes outbox entries the ledger already holds — after checking they are the ones it holds. */
  #forgetApplied(outbox: Outbox, committedSize: number): void {
    if (outbox.isEmpty()) return;
    for (const e of outbox.below(committedSize)) {
      if (!bytesEqual(nodeHasher.hashLeaf(e.entry), this.#storage.node(0, e.index))) {
        throw outboxInvalid("overtaken", e.index);
      }
    }
    outbox.deleteBelow(committedSize);
  }
}

/** Thrown inside the outbox transaction to roll an attempt back when a state command refused. */
const RETRY = new Error("state command refused; the batch is staged again without it");

function toOutboxEntry(e: EntryToAppend, index: number): OutboxEntry {
  return {
    index,
    entry: e.entry,
    keys: e.keys,
    ...(e.recordHashes !== undefined ? { recordHashes: e.recordHashes } : {}),
  };
}

function outboxInvalid(reason: string, index: number): LedgerError {
  return new LedgerError(
    "LEDGER_OUTBOX_INVALID",
    "台帳の未反映分 (outbox) が台帳と一致しません。fsck で確認してください",
    { reason, index },
  );
}
