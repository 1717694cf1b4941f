/**
 * fsck of a ledger file with the entry checks spread over threads: the entries are cut into pages of
 * {@link PAGE_SIZE}, dealt out in cycles of 2K + 1 for K workers — one page to this thread, two to each
 * worker, since this thread also folds the tree. Each worker opens the file itself and checks its pages
 * (`sqlite-log-fsck-page.ts` → `fsck-entries.ts`: index, leaf hash, canonical record, prev link, record
 * commitment), sending back each page's leaf hashes (32 bytes each, one transferred buffer per page) and
 * the first damage it found. This thread checks its own pages with the same code when it reaches them, and
 * folds all the leaf hashes in index order through `fsck-tree.ts` (nodes, checkpoints, signatures), exactly
 * as `ledger/fsck.ts` does in one thread — so the result, including which damage is reported first and
 * where, is the same (`fsck.int.test.ts` runs every case both ways, with 1 and 2 workers).
 *
 * Snapshots: this thread reads inside one read transaction and fixes the size N there; the workers read
 * rows below N only. Entries are only ever appended, so every connection sees the same rows below N
 * even while the node keeps appending. https://www.sqlite.org/isolation.html
 */
import { availableParallelism } from "node:os";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { LedgerError, type LedgerErrorCode } from "../ledger/errors.js";
import { Failure } from "../ledger/fsck-failure.js";
import {
  asResultAsync,
  fsck,
  intact,
  startTreeCheck,
  type FsckOptions,
  type FsckResult,
} from "../ledger/fsck.js";
import type { VerifierKey } from "../ledger/verify/verifier-key.js";
import { checkPage } from "./sqlite-log-fsck-page.js";
import { openSqliteLog, type SqliteLog } from "./sqlite-log.js";

/** Entries per page a worker checks and answers for at once. */
export const PAGE_SIZE = 4096;

const WORKER_URL = new URL("./sqlite-log-fsck-worker.js", import.meta.url);

/** What a worker is asked to do. */
export interface FsckWorkerJob {
  readonly path: string;
  /** The pages p below `pages` whose p mod `cycle` is one of `slots`. */
  readonly cycle: number;
  readonly slots: readonly number[];
  readonly pages: number;
  readonly pageSize: number;
  /** The size N fixed in the coordinating thread's snapshot: rows at N or above are not read. */
  readonly below: number;
}

/** Damage or an error, as it crosses from a worker. */
export interface SerializedFailure {
  readonly kind: "failure" | "ledger";
  readonly code: LedgerErrorCode;
  readonly index: number | null;
  readonly message: string;
  readonly context: Record<string, unknown>;
  readonly chain: boolean;
}

/** A worker's answer for one page. */
export interface FsckPageResult {
  readonly page: number;
  /** Entries of the page that passed (their leaf hashes are in `leaves`). */
  readonly count: number;
  readonly leaves: ArrayBuffer;
  /** The damage at entry page · pageSize + count, if any. */
  readonly failure?: SerializedFailure;
  /** An unexpected error (a bug, an unreadable file). */
  readonly error?: string;
}

/** Options of {@link fsckLogFile}. */
export interface FsckFileOptions extends FsckOptions {
  /**
   * Worker threads for the entry checks besides this thread's own share; 0 checks in this thread alone.
   * Default: one fewer than the machine's cores (≤ 3): this thread is busy too.
   */
  readonly workers?: number;
  /** Entries per page (tests use small pages to put page boundaries everywhere). */
  readonly pageSize?: number;
}

/** Checks the ledger file at `path` end to end, with the entry checks in worker threads. */
export async function fsckLogFile(
  path: string,
  logKey: VerifierKey,
  options: FsckFileOptions = {},
): Promise<FsckResult> {
  const available = existsSync(fileURLToPath(WORKER_URL));
  const workers = options.workers ?? (available ? Math.max(0, Math.min(3, availableParallelism() - 1)) : 0);
  if (workers > 0 && !available) throw new Error("fsck worker script missing (run npm run build)");
  const storage = openSqliteLog(path);
  try {
    if (workers === 0) return fsck(storage, logKey, options);
    return await checkInWorkers(storage, path, logKey, options, workers);
  } finally {
    storage.close();
  }
}

async function checkInWorkers(
  storage: SqliteLog,
  path: string,
  logKey: VerifierKey,
  options: FsckFileOptions,
  workers: number,
): Promise<FsckResult> {
  const endSnapshot = storage.beginSnapshot();
  const pool: Worker[] = [];
  try {
    return await asResultAsync(async () => {
      const { tree, done } = startTreeCheck(storage, logKey, options);
      try {
        const below = storage.size();
        const pageSize = options.pageSize ?? PAGE_SIZE;
        const pages = Math.ceil(below / pageSize);
        const inbox = new Inbox();
        // Slot 0 of each cycle is this thread's, slots 2w + 1 and 2w + 2 worker w's.
        const cycle = 2 * workers + 1;
        for (let w = 0; w < workers && 2 * w + 1 < pages; w++) {
          const slots = [2 * w + 1, 2 * w + 2];
          const job: FsckWorkerJob = { path, cycle, slots, pages, pageSize, below };
          const worker = new Worker(WORKER_URL, { workerData: job });
          worker.on("message", (r: FsckPageResult) => {
            inbox.put(r);
          });
          worker.on("error", (e: Error) => {
            inbox.fail(e);
          });
          worker.on("exit", (code) => {
            if (code !== 0) inbox.fail(new Error(`fsck worker exited with ${code}`));
          });
          pool.push(worker);
        }
        for (let page = 0; page < pages; page++) {
          const r =
            page % cycle === 0 ? checkPage(storage, { pageSize, below }, page) : await inbox.take(page);
          const leaves = new Uint8Array(r.leaves);
          const start = page * pageSize;
          for (let k = 0; k < r.count; k++) {
            tree.beforeEntry(start + k);
            tree.leaf(start + k, leaves.subarray(32 * k, 32 * k + 32));
          }
          if (r.error !== undefined) throw new Error(r.error);
          if (r.failure !== undefined) {
            tree.beforeEntry(start + r.count);
            const failure = revive(r.failure);
            if (failure instanceof Failure && failure.chain) tree.chainBroken(failure);
            throw failure;
          }
        }
        return intact(tree.finish());
      } finally {
        done();
      }
    });
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
    endSnapshot();
  }
}

function revive(f: SerializedFailure): Failure | LedgerError {
  return f.kind === "ledger"
    ? new LedgerError(f.code, f.message, f.context)
    : new Failure(f.code, f.index, f.message, f.context, f.chain);
}

/** Page results as they arrive, taken in page order. */
class Inbox {
  readonly #results = new Map<number, FsckPageResult>();
  #waiting: { page: number; resolve: (r: FsckPageResult) => void; reject: (e: Error) => void } | null = null;
  #error: Error | null = null;

  put(r: FsckPageResult): void {
    if (this.#waiting?.page === r.page) {
      const w = this.#waiting;
      this.#waiting = null;
      w.resolve(r);
    } else this.#results.set(r.page, r);
  }

  fail(e: Error): void {
    this.#error ??= e;
    const w = this.#waiting;
    this.#waiting = null;
    w?.reject(e);
  }

  take(page: number): Promise<FsckPageResult> {
    const r = this.#results.get(page);
    if (r !== undefined) {
      this.#results.delete(page);
      return Promise.resolve(r);
    }
    if (this.#error !== null) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#waiting = { page, resolve, reject };
    });
  }
}
