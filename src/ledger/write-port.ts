/**
 * The one way the service writes to the ledger. `service/ledger-port.ts` chooses the implementation: the
 * embedded node's local group-commit publisher (`ledger/embedded-ledger.ts`) or, later, the replicated
 * cluster on etcd. Nothing in `service/` signs checkpoints or writes ledger storage; it appends through
 * this port and reads through {@link LedgerReader} (`ledger/read-port.ts`).
 *
 * ## The contract (what every implementation guarantees)
 *
 * 1. **Order.** Entries get consecutive indices `0, 1, 2, …`; the entries of one `append` call are
 *    contiguous and in request order. Each entry's `prev` is the leaf hash of the entry before it (the
 *    sequencer fills in `v` and `prev`; callers never do).
 * 2. **Durability.** `append` resolves only once every entry of the call is durable: a crash (kill -9,
 *    power loss) of any process afterwards cannot lose it. Until it resolves nothing may be acknowledged
 *    to a client. If it rejects, none of the call's entries (and none of its state change) were written.
 * 3. **State change and entries together.** `options.command` — the service state change the entries
 *    record (a transfer's status, a session, a device row), as data ({@link StateCommand}) — is applied
 *    by the port's {@link ApplyCommand} in the same atomic step as the entries, or neither happens. The
 *    applier runs synchronously inside the implementation's transaction on the service database (on
 *    every node of a cluster); if it throws, the call rejects with that error and nothing of it is
 *    written (the other calls gathered into the same batch are unaffected).
 * 4. **Checkpoints on a cadence.** The implementation alone signs checkpoints: at most one per committed
 *    batch, at least one per {@link CHECKPOINT_INTERVAL_MS} while entries are unsigned, and promptly when
 *    someone waits in {@link LedgerWritePort.checkpointCovering}. It never signs a checkpoint that is
 *    inconsistent with one it signed before (tlog-checkpoint: a log MUST NOT sign inconsistent
 *    checkpoints).
 * 5. **Proofs only against signed checkpoints.** A proof handed to a client is built against a published
 *    checkpoint whose size covers the entry; a reader that needs one for a new entry waits in
 *    `checkpointCovering` rather than returning an unprovable entry.
 *
 * ## The embedded node (single process, two SQLite files)
 *
 * Group commit: concurrent `append` calls queue; a batch closes at {@link GROUP_COMMIT_MAX_ENTRIES}
 * entries or {@link GROUP_COMMIT_MAX_DELAY_MS} after its first call, whichever comes first, and is written
 * as one ledger transaction (one fsync). When a call in the batch carries a state change, the batch is
 * first written to an outbox in service.db in the same transaction as the state changes (one more fsync);
 * that commit is the decision point, and an outbox batch that a crash left unapplied is appended
 * idempotently (same indices, same bytes) at the next start or the next batch. See
 * `ledger/embedded-ledger.ts` for why an outbox and not ATTACH.
 *
 * ## A replicated implementation on etcd (how the cluster satisfies the same contract)
 *
 * - Order: one sequencer at a time, elected through an etcd lease (election / `campaign`); it alone
 *   assigns indices, and it writes each batch with a transaction that compare-and-swaps the log head key
 *   (`head == <previous size, previous leaf hash>`), so a deposed sequencer's late write fails instead of
 *   forking the log. Other nodes forward their `append` calls to it.
 * - Durability: the batch is durable when the etcd transaction commits, i.e. a Raft quorum of members
 *   has it in their WAL (fsynced); `append` resolves then, with the indices the sequencer assigned. Each
 *   node's local replica (the same `LogStorage`) follows by watching the batch keys, and reads are served
 *   from it once it has caught up to the index asked for.
 * - State change: the command travels with its records through the command log; the sequencer checks it
 *   against its own state first (a refused command is never ordered) and every node applies it, in log
 *   order, to its own service.db together with the batch's entries (`cluster/replicated-state.ts`).
 * - Checkpoints: the sequencer marks a batch as a checkpoint batch on the cadence (or when a node
 *   waits in `checkpointCovering`); every node signs its own copy's checkpoint after applying it, cosigns
 *   it once it recomputed the root, and a checkpoint is published when a quorum of online nodes cosigned
 *   it (`cluster/cluster-ledger.ts`).
 */
import type { RecordInput } from "./entry/operation-record.js";
import type { RecordHashList } from "./entry/records-commitment.js";

/** One record to append; conversion records also pass the record hashes they commit to. */
export interface AppendRequest {
  readonly record: RecordInput;
  /**
   * SHA-256 of each standard record, in file order (conversion records only): hex strings, or — what a
   * large conversion passes — all the digests packed 32 bytes each in one array (never copied per hash).
   */
  readonly recordHashes?: RecordHashList;
}

/** Where an appended entry landed. */
export interface AppendResult {
  readonly index: number;
  /** Hex RFC 9162 leaf hash of the entry's canonical bytes. */
  readonly leafHash: string;
}

/** A JSON value, as state commands carry their arguments. */
export type JsonValue =
  null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * A service state change as data: every node applies it, in log order, to its own service.db. The
 * applier registry is `service/state-commands/` (deterministic: ids, times, hashes and tokens are
 * computed by the caller and carried in `args`).
 */
export interface StateCommand {
  readonly kind: string;
  readonly args: JsonValue;
}

/**
 * Applies one command to the node's service database `db` (inside the caller's transaction or
 * savepoint), given where the command's entries landed; throws a coded error when its preconditions
 * fail (the call is refused, its entries not written). Must not await, read a clock or draw randomness.
 */
export type ApplyCommand<Db = unknown> = (
  command: StateCommand,
  results: readonly AppendResult[],
  db: Db,
) => void;

/** Options of one {@link LedgerWritePort.append} call. */
export interface AppendOptions {
  /**
   * The state change these entries record, as data (contract item 3): applied by the port's
   * {@link ApplyCommand} in the same atomic step as the entries — on every node of a cluster. When it
   * refuses, the call rejects with its error and nothing of it is written.
   */
  readonly command?: StateCommand;
}

/** A signed checkpoint the log has published. */
export interface PublishedCheckpoint {
  /** Tree size the checkpoint commits to. */
  readonly size: number;
  /** Root hash of the tree of `size` leaves. */
  readonly root: Uint8Array;
  /** The C2SP signed note: checkpoint text, blank line, signature lines. */
  readonly note: string;
}

/**
 * The publication hook a write port is built with: called once with each checkpoint it publishes (after
 * it is durable), so the node can time-stamp it (RFC 3161) or hand it to witnesses. It must not throw
 * into the publisher and must not block it (start asynchronous work and return).
 */
export type CheckpointPublished = (checkpoint: PublishedCheckpoint) => void;

/** The ledger's write side as the service sees it. */
export interface LedgerWritePort {
  /**
   * Appends the records of one operation, in order; resolves once they (and `options.command`'s state
   * change) are durable, with each entry's index and leaf hash.
   * @throws LedgerError LEDGER_ENTRY_INVALID / LEDGER_ENTRY_TOO_LARGE for a bad record (nothing written),
   *   LEDGER_CLOSED after close; whatever the command's applier threw
   */
  append(requests: readonly AppendRequest[], options?: AppendOptions): Promise<AppendResult[]>;

  /**
   * Resolves with a published checkpoint whose size is greater than `index` (so it covers the entry),
   * asking the publisher to sign one soon if none does yet. `index` must be an entry already appended.
   * @throws LedgerError LEDGER_INDEX_OUT_OF_RANGE for an index never appended; LEDGER_CLOSED
   */
  checkpointCovering(index: number): Promise<PublishedCheckpoint>;

  /** The latest published checkpoint. @throws LedgerError LEDGER_CHECKPOINT_MISSING */
  latestCheckpoint(): PublishedCheckpoint;

  /**
   * Writes what is queued, publishes a checkpoint covering everything appended, and releases storage.
   * The embedded node does all of it before returning (the promise is already settled); a replicated
   * one resolves when its last batch is committed.
   */
  close(): Promise<void>;
}

/** A batch closes after this many entries… */
export const GROUP_COMMIT_MAX_ENTRIES = 4096;
/** …or this long after its first call, whichever comes first. */
export const GROUP_COMMIT_MAX_DELAY_MS = 2;
/** While entries are unsigned, a checkpoint is published at least this often. */
export const CHECKPOINT_INTERVAL_MS = 1000;
