/**
 * One node's replicated state machine: its own ledger.db and its own service.db, advanced only by
 * applying the ordered command log, batch by batch. Every node (online, offline) applies the same
 * batches in the same order with the same deterministic applier, so the copies are independent (never a
 * byte copy of another node's file) and yet equal — which is what lets each node recompute the root,
 * cosign it, and later find and repair a tampered copy.
 *
 * **Applying a batch** (`apply`, the follower's step): the batch's entries are staged after the ledger's
 * head and written to ledger.db in one transaction; then, in one service.db transaction, each command's
 * state change runs (with its entries' indices and leaf hashes), the batch's canonical text is archived
 * (what a peer serves a node that etcd no longer can) and the position {seq, hash, ledger size} is
 * recorded. A crash between the two commits leaves the ledger ahead of the position: the next apply of
 * that batch finds its entries already stored, checks they are byte for byte the ones it would write,
 * and only runs the state changes. So apply is idempotent and a restarted node resumes by itself.
 *
 * **Preparing a batch** (`prepare`, on the sequencer only): the commands about to be ordered are run
 * against this node's state at the log head — each in a savepoint inside one transaction that is then
 * rolled back — so a command whose preconditions fail (or whose records are invalid) is refused before
 * anything is written anywhere, and every other node, applying the accepted ones from the same state,
 * reaches the same outcome. The sequencer keeps several batches in flight: a batch written to etcd but
 * not applied here yet is run first in the same rolled-back transaction (`ahead`), so the next batch is
 * judged against the state it will really follow.
 *
 * A state change that throws on a node where the sequencer accepted it means this node's state differs
 * from the sequencer's (tampering, a bug): apply stops with CLUSTER_APPLY_FAILED rather than skip it.
 */
import { isCodedError } from "../coded-error.js";
import { canonicalBytes } from "../ledger/entry/canonical-entry.js";
import type { LogStorage } from "../ledger/log-storage.js";
import { nodeHasher } from "../ledger/node-hasher.js";
import { checkRequests, LocalOrder, type CheckedRequest } from "../ledger/sequencer.js";
import { bytesEqual, toHex } from "../ledger/verify/encoding.js";
import { GENESIS_PREV } from "../ledger/entry/operation-record.js";
import type { AppendResult } from "../ledger/write-port.js";
import type { ServiceDb } from "../store/service-db.js";
import {
  GENESIS,
  encodeBatch,
  type Command,
  type CommandBatch,
  type LogPosition,
  type RefusedCommand,
} from "./command-log/command-batch.js";
import type { PreparedBatch } from "./command-log/sequencer.js";
import { ClusterError } from "./errors.js";
import { isAppendBody, isCheckpointRequest, type ApplyCommand } from "./state-command.js";

export interface ReplicaPosition extends LogPosition {
  /** Ledger size once every batch up to `seq` was applied. */
  readonly ledgerSize: number;
}

/** What applying one batch meant for each of its commands (for the nodes waiting on them). */
export interface AppliedBatch {
  readonly position: ReplicaPosition;
  readonly results: ReadonlyMap<string, readonly AppendResult[]>;
  readonly refused: readonly RefusedCommand[];
  readonly checkpoint: boolean;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS cluster_position (
  id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL, ledger_size INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS cluster_batches (seq INTEGER PRIMARY KEY, batch TEXT NOT NULL) STRICT;
`;

/** Thrown to roll back the sequencer's trial transaction (never escapes `prepare`). */
class Rollback extends Error {}

export class ReplicatedState {
  readonly #storage: LogStorage;
  readonly #db: ServiceDb;
  readonly #applyCommand: ApplyCommand;
  readonly #order: LocalOrder;
  /** The checked requests of commands this node prepared (its own batches are not checked twice). */
  readonly #checked = new WeakMap<Command, CheckedRequest[]>();
  #position: ReplicaPosition;

  constructor(o: { storage: LogStorage; db: ServiceDb; applyCommand: ApplyCommand }) {
    this.#storage = o.storage;
    this.#db = o.db;
    this.#applyCommand = o.applyCommand;
    this.#db.exec(SCHEMA);
    const row = this.#db
      .prepare<[], { seq: number; hash: string; ledger_size: number }>(
        "SELECT seq, hash, ledger_size FROM cluster_position WHERE id = 1",
      )
      .get();
    this.#position =
      row === undefined
        ? { ...GENESIS, ledgerSize: 0 }
        : { seq: row.seq, hash: row.hash, ledgerSize: row.ledger_size };
    // A ledger shorter than the position (its last entry rows lost while the node was stopped) still
    // opens: the next batch does not fit it (`apply`: CLUSTER_APPLY_FAILED, nothing written), this node
    // prepares none (`prepare`), and the integrity check finds the missing entries below the applied size
    // and repairs them from a peer, after which the replica follows again. Before, the node refused to
    // open and nothing could repair it.
    this.#order = new LocalOrder(this.#storage, nodeHasher);
  }

  position(): ReplicaPosition {
    return this.#position;
  }

  /**
   * Reads the head again from storage, after a repair rewrote ledger.db underneath (the head in memory
   * may hold rewritten leaves: `sync` reloads only when the size moved).
   */
  reloadHead(): void {
    this.#order.reload();
  }

  /** The archived canonical text of batches seq ≥ `from`, ascending, at most `limit`. */
  batchesFrom(from: number, limit: number): string[] {
    return this.#db
      .prepare<[number, number], { batch: string }>(
        "SELECT batch FROM cluster_batches WHERE seq >= ? ORDER BY seq LIMIT ?",
      )
      .all(from, limit)
      .map((r) => r.batch);
  }

  /**
   * Applies the batch that follows the current position (the follower's `apply`).
   * @throws ClusterError CLUSTER_APPLY_FAILED (the node stops: its copy and the log disagree)
   */
  apply(batch: CommandBatch, next: LogPosition): AppliedBatch | undefined {
    // Already applied (the sequencer applies its own batch as soon as etcd committed it; its follower
    // then reads the same batch back): nothing to do.
    if (batch.seq <= this.#position.seq && this.#archived(batch.seq) === encodeBatch(batch)) return undefined;
    if (batch.seq !== this.#position.seq + 1) {
      throw new ClusterError("CLUSTER_APPLY_FAILED", "コマンドログの位置が合いません", {
        seq: batch.seq,
        position: this.#position.seq,
      });
    }
    const appends = batch.commands.filter((c) => isAppendBody(c.body));
    const checked = appends.map((c) => this.#check(c, batch.seq));
    const count = checked.reduce((n, r) => n + r.length, 0);
    const from = this.#position.ledgerSize;
    const stored = this.#storage.size();
    let results: AppendResult[];
    if (stored === from) {
      results = this.#writeEntries(checked.flat());
    } else if (stored >= from + count) {
      results = this.#storedEntries(checked.flat(), from, batch.seq);
    } else {
      throw new ClusterError("CLUSTER_APPLY_FAILED", "台帳の大きさがコマンドログの位置と合いません", {
        seq: batch.seq,
        expected: from,
        stored,
      });
    }
    const byId = new Map<string, AppendResult[]>();
    let at = 0;
    appends.forEach((c, i) => {
      const n = (checked[i] as CheckedRequest[]).length;
      byId.set(c.id, results.slice(at, at + n));
      at += n;
    });
    const position: ReplicaPosition = { seq: next.seq, hash: next.hash, ledgerSize: from + count };
    this.#db.transaction(() => {
      for (const c of appends) {
        if (!isAppendBody(c.body) || c.body.command === undefined) continue;
        try {
          this.#applyCommand(c.body.command, byId.get(c.id) ?? [], this.#db);
        } catch (cause) {
          throw new ClusterError(
            "CLUSTER_APPLY_FAILED",
            "順序付けで受理された状態変更をこのノードでは適用できません",
            { seq: batch.seq, kind: c.body.command.kind, code: isCodedError(cause) ? cause.code : undefined },
            { cause },
          );
        }
      }
      this.#db
        .prepare("INSERT INTO cluster_batches (seq, batch) VALUES (?, ?)")
        .run(batch.seq, encodeBatch(batch));
      this.#db
        .prepare(
          "INSERT INTO cluster_position (id, seq, hash, ledger_size) VALUES (1, ?, ?, ?) " +
            "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, ledger_size = excluded.ledger_size",
        )
        .run(position.seq, position.hash, position.ledgerSize);
    })();
    this.#position = position;
    return { position, results: byId, refused: batch.refused ?? [], checkpoint: batch.checkpoint === true };
  }

  #archived(seq: number): string | undefined {
    return this.#db
      .prepare<[number], { batch: string }>("SELECT batch FROM cluster_batches WHERE seq = ?")
      .get(seq)?.batch;
  }

  /**
   * The sequencer's check of commands about to follow `head`: each runs in a savepoint of a transaction
   * that is rolled back; the ones that fail are refused. `ahead`: the batches between this state's
   * position and `head` (written, not applied here yet), run first in the same transaction. `undefined`
   * when this state and `ahead` do not lead to `head` (the sequencer waits for its own replica and looks
   * again).
   */
  prepare(
    head: LogPosition,
    commands: readonly Command[],
    ahead: readonly { readonly batch: CommandBatch; readonly position: LogPosition }[] = [],
  ): PreparedBatch | undefined {
    let at: LogPosition = this.#position;
    for (const a of ahead) {
      if (a.batch.seq !== at.seq + 1 || a.batch.prev !== at.hash) return undefined;
      at = a.position;
    }
    if (head.seq !== at.seq || head.hash !== at.hash) return undefined;
    if (this.#storage.size() !== this.#position.ledgerSize) return undefined;
    const accepted: Command[] = [];
    const acceptedRequests: CheckedRequest[] = [];
    const refused: RefusedCommand[] = [];
    let checkpoint = false;
    this.#order.reload();
    try {
      this.#db.transaction(() => {
        // The batches in flight, as every node will apply them (they were accepted in this order).
        for (const a of ahead) {
          for (const c of a.batch.commands) {
            if (!isAppendBody(c.body)) continue;
            const requests = this.#checkedRequests(c);
            const staged = this.#order.stage(requests);
            acceptedRequests.push(...requests);
            const command = c.body.command;
            if (command !== undefined) this.#applyCommand(command, staged.results, this.#db);
          }
        }
        for (const c of commands) {
          if (isCheckpointRequest(c.body)) {
            checkpoint = true;
            accepted.push(c);
            continue;
          }
          if (!isAppendBody(c.body)) {
            refused.push(refusal(c, new ClusterError("CLUSTER_LOG_ENTRY_INVALID", "不明なコマンドです", {})));
            continue;
          }
          let requests: CheckedRequest[];
          try {
            requests = checkRequests(c.body.requests);
          } catch (error) {
            refused.push(refusal(c, error));
            continue;
          }
          this.#checked.set(c, requests);
          const staged = this.#order.stage(requests);
          const command = c.body.command;
          try {
            if (command !== undefined)
              this.#db.transaction(() => {
                this.#applyCommand(command, staged.results, this.#db);
              })();
            accepted.push(c);
            acceptedRequests.push(...requests);
          } catch (error) {
            refused.push(refusal(c, error));
            // Its entries were staged after the head: stage the accepted ones again without them.
            this.#order.reload();
            this.#order.stage(acceptedRequests);
          }
        }
        throw new Rollback();
      })();
    } catch (error) {
      if (!(error instanceof Rollback)) throw error;
    } finally {
      this.#order.reload();
    }
    return { accepted, refused, checkpoint };
  }

  /** A prepared command's checked requests (checked again if this node did not prepare it). */
  #checkedRequests(c: Command): CheckedRequest[] {
    if (!isAppendBody(c.body)) return [];
    return this.#checked.get(c) ?? checkRequests(c.body.requests);
  }

  #check(c: Command, seq: number): CheckedRequest[] {
    if (!isAppendBody(c.body)) return [];
    try {
      return this.#checkedRequests(c);
    } catch (cause) {
      throw new ClusterError(
        "CLUSTER_APPLY_FAILED",
        "順序付けで受理された記録が正しくありません",
        { seq },
        { cause },
      );
    }
  }

  #writeEntries(requests: readonly CheckedRequest[]): AppendResult[] {
    if (requests.length === 0) return [];
    try {
      return this.#storage.writeTransaction(() => {
        this.#order.sync();
        const staged = this.#order.stage(requests);
        this.#storage.appendBatch(staged);
        return staged.results;
      });
    } catch (error) {
      this.#order.reload();
      throw error;
    }
  }

  /** A crash left these entries in ledger.db before the position moved: check they are exactly ours. */
  #storedEntries(requests: readonly CheckedRequest[], from: number, seq: number): AppendResult[] {
    let prev = from === 0 ? GENESIS_PREV : toHex(this.#storage.entry(from - 1).leafHash);
    return requests.map((r, i) => {
      const stored = this.#storage.entry(from + i);
      const expected = canonicalBytes({ ...r.record, v: 1, prev });
      if (!bytesEqual(expected, stored.entry)) {
        throw new ClusterError("CLUSTER_APPLY_FAILED", "台帳の既存エントリがコマンドログと一致しません", {
          seq,
          index: from + i,
        });
      }
      prev = toHex(stored.leafHash);
      return { index: from + i, leafHash: prev };
    });
  }
}

function refusal(c: Command, error: unknown): RefusedCommand {
  const coded = isCodedError(error);
  return {
    id: c.id,
    origin: c.origin,
    error: {
      name: error instanceof Error ? error.name : "Error",
      code: coded ? error.code : "CLUSTER_APPLY_FAILED",
      message: error instanceof Error ? error.message : String(error),
      context: coded ? jsonSafe(error.context) : {},
    },
  };
}

/** A context as it survives JSON (what the log can carry). */
function jsonSafe(context: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(context ?? {})) as unknown;
  } catch {
    return {};
  }
}
