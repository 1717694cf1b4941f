/**
 * The survivor's local queue of ledger appends that could not be ordered while the cluster had no
 * majority (read-only mode, quorum-guard.ts): the entries recording reads — downloads, trails,
 * verifications, look-ups — made on this node. They are kept durably here (own SQLite file, WAL,
 * synchronous=FULL: `enqueue` returns after the fsync, so the read it records may then be answered) and
 * appended in queue order once a quorum is back, then removed.
 *
 * Each item has an id made when it was queued, so the drain can hand it to a port that recognises
 * operations it has already ordered. Records hold what any ledger entry holds (actor, institution,
 * hashes) and never payload contents.
 */
import Database from "better-sqlite3";
import { assertSqliteRuntime } from "../store/sqlite-runtime.js";
import { ClusterError } from "./errors.js";

/** One queued append: the requests of one `append` call and the replicated command, if any. */
export interface PendingItem {
  /** Position in the queue (increasing, never reused). */
  readonly seq: number;
  readonly id: string;
  /** The `append` requests, as JSON (records and record hashes). */
  readonly requests: readonly unknown[];
  /** A deferrable state command the entries record (kind + args), if any. */
  readonly command?: unknown;
  /** ISO time it was queued. */
  readonly queuedAt: string;
}

export interface PendingQueue {
  /** Queues one append durably; returns its seq. */
  enqueue(item: { id: string; requests: readonly unknown[]; command?: unknown; queuedAt: string }): number;
  /** The oldest items, in order. */
  peek(limit: number): PendingItem[];
  /** Removes an item once it was appended. */
  remove(seq: number): void;
  count(): number;
  close(): void;
}

/** An item larger than this is refused (a read's entries are small; nothing unbounded is queued). */
export const MAX_PENDING_ITEM_BYTES = 1024 * 1024;

/**
 * Opens (creating when missing) the queue file.
 * @throws ClusterError CLUSTER_PENDING_QUEUE_UNUSABLE
 */
export function openPendingQueue(path: string): PendingQueue {
  assertSqliteRuntime();
  let db: Database.Database;
  try {
    db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("busy_timeout = 5000");
    db.exec(
      `CREATE TABLE IF NOT EXISTS pending (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         id TEXT NOT NULL UNIQUE,
         body TEXT NOT NULL,
         queued_at TEXT NOT NULL
       ) STRICT`,
    );
  } catch (cause) {
    throw new ClusterError(
      "CLUSTER_PENDING_QUEUE_UNUSABLE",
      "保留中の記録のファイルを開けません",
      {},
      { cause },
    );
  }
  const insert = db.prepare<[string, string, string]>(
    "INSERT INTO pending (id, body, queued_at) VALUES (?, ?, ?)",
  );
  const head = db.prepare<[number], { seq: number; id: string; body: string; queued_at: string }>(
    "SELECT seq, id, body, queued_at FROM pending ORDER BY seq LIMIT ?",
  );
  const remove = db.prepare<[number]>("DELETE FROM pending WHERE seq = ?");
  const total = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM pending");
  return {
    enqueue(item) {
      const body = JSON.stringify({
        requests: item.requests,
        ...(item.command === undefined ? {} : { command: item.command }),
      });
      if (Buffer.byteLength(body) > MAX_PENDING_ITEM_BYTES) {
        throw new ClusterError("CLUSTER_PENDING_QUEUE_UNUSABLE", "保留する記録が大きすぎます", {
          bytes: Buffer.byteLength(body),
        });
      }
      return Number(insert.run(item.id, body, item.queuedAt).lastInsertRowid);
    },
    peek(limit) {
      return head.all(Math.max(1, Math.floor(limit))).map((r) => {
        const body = JSON.parse(r.body) as { requests: unknown[]; command?: unknown };
        return {
          seq: r.seq,
          id: r.id,
          requests: body.requests,
          ...(body.command === undefined ? {} : { command: body.command }),
          queuedAt: r.queued_at,
        };
      });
    },
    remove(seq) {
      remove.run(seq);
    },
    count: () => total.get()?.n ?? 0,
    close() {
      db.close();
    },
  };
}
