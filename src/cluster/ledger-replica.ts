/**
 * A node's own copy of the ledger, built only by applying the ordered command log: every node applies the
 * same `ledger.append` commands in the same order to its *own* ledger.db, so the copies are independent
 * (never a byte copy of another node's file) and yet, entries being canonical and chained
 * deterministically, identical — which is what lets each node recompute the root, cosign it, and later
 * find and repair a tampered copy.
 *
 * The log position reached is kept beside the ledger file (written atomically after each batch). A
 * crash between a command's append and the position write is detected on the next apply: the ledger
 * already holds that command's entries (Ledger.append is one transaction), so they are counted, not
 * appended again. A command whose records the ledger refuses (LEDGER_ENTRY_INVALID / _TOO_LARGE) is
 * refused the same way by every node and appends nothing anywhere.
 *
 * This is the part of the cluster's ledger write path that does not depend on the write port
 * (`ledger/write-port.ts`, issue 9); the replicated implementation of that port submits these commands
 * and waits for its own replica to apply them.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { isCodedError } from "../coded-error.js";
import type { Ledger } from "../ledger/ledger.js";
import type { AppendRequest } from "../ledger/sequencer.js";
import { GENESIS, type CommandBatch, type LogPosition } from "./command-log/command-batch.js";
import { ClusterError } from "./errors.js";

export const LEDGER_APPEND = "ledger.append";

/** The body of a command that appends one operation's records. */
export interface LedgerAppendBody {
  readonly type: typeof LEDGER_APPEND;
  readonly requests: readonly AppendRequest[];
}

export interface ReplicaPosition extends LogPosition {
  /** Ledger size once every command up to `seq` was applied. */
  readonly ledgerSize: number;
}

export interface LedgerReplica {
  readonly ledger: Ledger;
  position(): ReplicaPosition;
  /** Applies one batch (the follower's `apply`). */
  apply(batch: CommandBatch, position: LogPosition): Promise<void>;
  /** Commands refused by the ledger so far (in this process). */
  refused(): number;
}

function isAppendBody(body: unknown): body is LedgerAppendBody {
  const b = body as Partial<LedgerAppendBody> | null;
  return b !== null && typeof b === "object" && b.type === LEDGER_APPEND && Array.isArray(b.requests);
}

function readPosition(path: string): ReplicaPosition {
  if (!existsSync(path)) return { ...GENESIS, ledgerSize: 0 };
  const p = JSON.parse(readFileSync(path, "utf8")) as Partial<ReplicaPosition>;
  if (!Number.isSafeInteger(p.seq) || typeof p.hash !== "string" || !Number.isSafeInteger(p.ledgerSize)) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "台帳の複製位置のファイルが正しくありません", {});
  }
  return p as ReplicaPosition;
}

function writePosition(path: string, p: ReplicaPosition): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, JSON.stringify(p));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function openLedgerReplica(o: { ledger: Ledger; positionPath: string }): LedgerReplica {
  let position = readPosition(o.positionPath);
  let refused = 0;
  return {
    ledger: o.ledger,
    position: () => position,
    refused: () => refused,
    async apply(batch, next) {
      let size = position.ledgerSize;
      for (const command of batch.commands) {
        if (!isAppendBody(command.body)) continue;
        const n = command.body.requests.length;
        const stored = o.ledger.storage.size();
        if (size + n <= stored) {
          // Appended before a crash that lost the position write: already here.
          size += n;
          continue;
        }
        if (size !== stored) {
          throw new ClusterError("CLUSTER_APPLY_FAILED", "台帳の大きさがコマンドログの位置と合いません", {
            expected: size,
            stored,
          });
        }
        try {
          await o.ledger.append(command.body.requests);
          size += n;
        } catch (error) {
          if (
            isCodedError(error) &&
            (error.code === "LEDGER_ENTRY_INVALID" || error.code === "LEDGER_ENTRY_TOO_LARGE")
          ) {
            refused++;
            continue;
          }
          throw error;
        }
      }
      position = { seq: next.seq, hash: next.hash, ledgerSize: size };
      writePosition(o.positionPath, position);
    },
  };
}
