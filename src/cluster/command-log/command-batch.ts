/**
 * The ordered command log's records, kept in etcd under one prefix:
 *
 *   ids/<command id>        create-only marker: a command id is accepted once, ever (idempotent retries);
 *                           its value names the group's pending record (`submit-command.ts`)
 *   pending/<group key>     a submitted group of commands waiting for the sequencer (deleted when sequenced)
 *   log/<seq, 16 digits>    batch number seq (1, 2, …): RFC 8785 canonical JSON of {seq, prev, commands}
 *   head                    {"seq","hash"} of the last batch; every append compares-and-swaps it
 *   applied/<node>          the last seq each node applied (progress, lag, and the trim horizon)
 *   election/               the sequencer election (etcd's election recipe, a lease per candidate)
 *
 * Each batch names the SHA-256 of the previous batch's canonical bytes, so a follower that applies
 * batch n knows it is the successor of exactly the batch n−1 it applied: nothing lost, duplicated or
 * reordered goes unnoticed even if etcd's contents were edited. Pure: no I/O here.
 */
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import { ClusterError } from "../errors.js";

/** One state change, as submitted by a node. `body` is the state machine's own JSON. */
export interface Command {
  readonly id: string;
  /** The node that accepted it from a user. */
  readonly origin: string;
  readonly body: unknown;
}

/**
 * A submitted command the sequencer refused (its preconditions failed against the state at the batch's
 * position): nothing of it is applied anywhere; it is in the log only so that its origin learns the
 * outcome, with the coded error the state machine raised (code, message and log-safe context).
 */
export interface RefusedCommand {
  readonly id: string;
  readonly origin: string;
  readonly error: {
    readonly name: string;
    readonly code: string;
    readonly message: string;
    readonly context: unknown;
  };
}

export interface CommandBatch {
  readonly seq: number;
  /** Hex SHA-256 of the previous batch's canonical bytes (GENESIS_HASH before batch 1). */
  readonly prev: string;
  readonly commands: readonly Command[];
  /** Commands refused when this batch was formed (absent when none). */
  readonly refused?: readonly RefusedCommand[];
  /** Every node signs, cosigns and offers a checkpoint of its copy right after applying this batch. */
  readonly checkpoint?: true;
}

/** Where a follower stands: the last batch it applied. */
export interface LogPosition {
  readonly seq: number;
  readonly hash: string;
}

export const GENESIS_HASH = "0".repeat(64);
export const GENESIS: LogPosition = { seq: 0, hash: GENESIS_HASH };

/**
 * Upper bound on one command's canonical JSON; etcd's default request limit is 1.5 MiB per request and a
 * batch carries at least one command. (A conversion record's record hashes travel in its command: about
 * 11,000 records fit; larger files need their hashes carried as a payload — see the README.)
 */
export const MAX_COMMAND_BYTES = 768 * 1024;
/** Upper bound on one batch's canonical JSON. */
export const MAX_BATCH_BYTES = 1024 * 1024;

const COMMAND_ID = /^[A-Za-z0-9_-]{8,64}$/;
const NODE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

export interface LogKeys {
  readonly ids: string;
  readonly pending: string;
  readonly log: string;
  readonly head: string;
  readonly applied: string;
  readonly election: string;
  logKey(seq: number): string;
}

export function logKeys(prefix: string): LogKeys {
  if (!/^[A-Za-z0-9/_-]{1,128}\/$/.test(prefix)) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "etcd のキー接頭辞が正しくありません", {
      expected: "letters, digits, '/', '_', '-' ending in '/'",
    });
  }
  const log = `${prefix}log/`;
  return {
    ids: `${prefix}ids/`,
    pending: `${prefix}pending/`,
    log,
    head: `${prefix}head`,
    applied: `${prefix}applied/`,
    election: `${prefix}election`,
    logKey: (seq) => `${log}${String(seq).padStart(16, "0")}`,
  };
}

function invalid(reason: string, context: Record<string, unknown> = {}): ClusterError {
  return new ClusterError("CLUSTER_LOG_ENTRY_INVALID", `コマンドログの記録が正しくありません (${reason})`, {
    reason,
    ...context,
  });
}

/**
 * Checks a command before it is submitted (and again when read back).
 * @throws ClusterError CLUSTER_LOG_ENTRY_INVALID
 */
export function checkCommand(value: unknown): Command {
  const c = value as Partial<Command> | null;
  if (c === null || typeof c !== "object") throw invalid("command");
  if (typeof c.id !== "string" || !COMMAND_ID.test(c.id)) throw invalid("id");
  if (typeof c.origin !== "string" || !NODE_NAME.test(c.origin)) throw invalid("origin");
  if (!("body" in c)) throw invalid("body");
  const text = canonicalize({ id: c.id, origin: c.origin, body: c.body });
  if (text === undefined || Buffer.byteLength(text) > MAX_COMMAND_BYTES) throw invalid("size");
  return { id: c.id, origin: c.origin, body: c.body };
}

function checkRefused(value: unknown): RefusedCommand {
  const r = value as Partial<RefusedCommand> | null;
  if (r === null || typeof r !== "object" || typeof r.id !== "string" || typeof r.origin !== "string") {
    throw invalid("refused");
  }
  const e = r.error as Partial<RefusedCommand["error"]> | null | undefined;
  if (
    e === null ||
    typeof e !== "object" ||
    typeof e.name !== "string" ||
    typeof e.code !== "string" ||
    typeof e.message !== "string"
  ) {
    throw invalid("refused error");
  }
  return {
    id: r.id,
    origin: r.origin,
    error: { name: e.name, code: e.code, message: e.message, context: e.context ?? {} },
  };
}

/** The canonical bytes of a batch (what etcd stores and what the hash covers). */
export function encodeBatch(batch: CommandBatch): string {
  const text = canonicalize({
    seq: batch.seq,
    prev: batch.prev,
    commands: batch.commands,
    ...(batch.refused !== undefined && batch.refused.length > 0 ? { refused: batch.refused } : {}),
    ...(batch.checkpoint === true ? { checkpoint: true } : {}),
  });
  if (text === undefined) throw invalid("encode");
  return text;
}

export function batchHash(encoded: string): string {
  return createHash("sha256").update(encoded, "utf8").digest("hex");
}

/**
 * Parses a stored batch and checks it is the successor of `after`.
 * @throws ClusterError CLUSTER_LOG_ENTRY_INVALID (not a canonical batch), CLUSTER_LOG_GAP (not the
 *   successor: wrong seq or prev hash)
 */
export function decodeBatch(
  text: string,
  after: LogPosition,
): { batch: CommandBatch; position: LogPosition } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ClusterError(
      "CLUSTER_LOG_ENTRY_INVALID",
      "コマンドログの記録が JSON ではありません",
      {},
      { cause },
    );
  }
  const b = raw as Partial<CommandBatch> | null;
  if (b === null || typeof b !== "object" || !Number.isSafeInteger(b.seq) || typeof b.prev !== "string") {
    throw invalid("batch");
  }
  if (!Array.isArray(b.commands)) throw invalid("commands");
  if (b.refused !== undefined && !Array.isArray(b.refused)) throw invalid("refused");
  if (b.checkpoint !== undefined && (b.checkpoint as unknown) !== true) throw invalid("checkpoint");
  const refused = (b.refused ?? []).map((r) => checkRefused(r));
  const batch: CommandBatch = {
    seq: b.seq as number,
    prev: b.prev,
    commands: b.commands.map((c) => checkCommand(c)),
    ...(refused.length > 0 ? { refused } : {}),
    ...(b.checkpoint === true ? { checkpoint: true } : {}),
  };
  if (encodeBatch(batch) !== text) throw invalid("not canonical", { seq: batch.seq });
  if (batch.seq !== after.seq + 1 || batch.prev !== after.hash) {
    throw new ClusterError("CLUSTER_LOG_GAP", "コマンドログの順序が途切れています", {
      expectedSeq: after.seq + 1,
      seq: batch.seq,
    });
  }
  return { batch, position: { seq: batch.seq, hash: batchHash(text) } };
}
