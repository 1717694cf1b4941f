/**
 * Worker thread of `sqlite-log-fsck.ts`: opens the ledger file, and for each of its pages runs the
 * entry checks of `ledger/fsck-entries.ts`, posting the page's leaf hashes and the first damage found.
 * Stops after the first damage (the coordinator stops there too).
 */
import { parentPort, workerData } from "node:worker_threads";
import { LedgerError } from "../ledger/errors.js";
import { EntryChecker } from "../ledger/fsck-entries.js";
import { Failure } from "../ledger/fsck-failure.js";
import { nodeHasher } from "../ledger/node-hasher.js";
import type { FsckPageResult, FsckWorkerJob, SerializedFailure } from "./sqlite-log-fsck.js";
import { openSqliteLog, type SqliteLog } from "./sqlite-log.js";

const job = workerData as FsckWorkerJob;
const port = parentPort;

function checkPage(storage: SqliteLog, page: number): FsckPageResult {
  const start = page * job.pageSize;
  // The first page also reads any row below 0, which the sequential scan would meet first.
  const rows = storage.entriesPage(page === 0 ? Number.MIN_SAFE_INTEGER : start, job.below, job.pageSize + 1);
  const count = Math.min(job.pageSize, rows.length);
  const leaves = new Uint8Array(32 * count);
  let checked = 0;
  try {
    const before = start === 0 ? [] : storage.entriesPage(start - 1, start, 1);
    const prevLeaf = before[0] === undefined ? null : nodeHasher.hashLeaf(before[0].entry);
    const checker = new EntryChecker(storage, nodeHasher, start, prevLeaf);
    for (; checked < count; checked++) {
      leaves.set(checker.check(rows[checked] as (typeof rows)[number], rows[checked + 1]), 32 * checked);
    }
    return { page, count, leaves: leaves.buffer };
  } catch (error) {
    if (error instanceof Failure || error instanceof LedgerError) {
      return { page, count: checked, leaves: leaves.buffer, failure: serialize(error) };
    }
    return { page, count: checked, leaves: leaves.buffer, error: String(error) };
  }
}

function serialize(error: Failure | LedgerError): SerializedFailure {
  return {
    kind: error instanceof Failure ? "failure" : "ledger",
    code: error.code,
    index: error instanceof Failure ? error.index : null,
    message: error.message,
    context: error.context,
    chain: error instanceof Failure && error.chain,
  };
}

if (port !== null) {
  const storage = openSqliteLog(job.path);
  try {
    storage.readSnapshot(() => {
      for (let page = job.first; page < job.pages; page += job.step) {
        const result = checkPage(storage, page);
        port.postMessage(result, [result.leaves]);
        if (result.failure !== undefined || result.error !== undefined) return;
      }
    });
  } finally {
    storage.close();
  }
}
