/**
 * One page of fsck's entry checks (`ledger/fsck-entries.ts`) over a ledger file: the page's leaf hashes
 * and the first damage found. Run by the worker threads of `sqlite-log-fsck.ts` and, for its own share
 * of the pages, by the coordinating thread itself — the same code, so the result does not depend on
 * which thread checked a page.
 */
import { LedgerError } from "../ledger/errors.js";
import { EntryChecker } from "../ledger/fsck-entries.js";
import { Failure } from "../ledger/fsck-failure.js";
import { nodeHasher } from "../ledger/node-hasher.js";
import type { FsckPageResult, SerializedFailure } from "./sqlite-log-fsck.js";
import type { SqliteLog } from "./sqlite-log.js";

/** Which page, of how many entries, and the size N fixed in the coordinator's snapshot. */
export interface PageJob {
  readonly pageSize: number;
  /** Rows at N or above are not read. */
  readonly below: number;
}

/** Checks page `page` of the log (read inside the caller's read snapshot). */
export function checkPage(storage: SqliteLog, job: PageJob, page: number): FsckPageResult {
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
