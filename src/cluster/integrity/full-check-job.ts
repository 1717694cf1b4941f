/**
 * One full check over a node's files opened by path on connections of their own, inside one read
 * snapshot of the ledger file: what the worker thread runs (`full-check-worker.ts`) and what
 * `full-check-thread.ts` runs in the calling thread when the worker script is not built.
 */
import Database from "better-sqlite3";
import { parseVerifierKey } from "../../ledger/verify/verifier-key.js";
import { openChunkStore } from "../../store/chunk-store.js";
import { openLogRepairAccess } from "../../store/sqlite-log-repair.js";
import { openSqliteLog } from "../../store/sqlite-log.js";
import { appliedLedgerSize, runFullCheck, type FullCheckResult } from "./full-check.js";

/** What the worker checks (paths and plain values only: it crosses a thread boundary). */
export interface FullCheckJob {
  readonly ledgerDb: string;
  readonly serviceDb?: string | undefined;
  readonly chunksDb?: string | undefined;
  /** The log's verifier key (note vkey text). */
  readonly logKey: string;
  /** Size and root of the latest published checkpoint (already verified by the caller). */
  readonly published?: { readonly size: number; readonly root: Uint8Array } | undefined;
}

export type FullCheckReply = { readonly result: FullCheckResult } | { readonly error: string };

/** Runs the check of `job` in this thread. */
export function checkJob(job: FullCheckJob): FullCheckResult {
  const storage = openSqliteLog(job.ledgerDb);
  const access = openLogRepairAccess(job.ledgerDb);
  const serviceDb =
    job.serviceDb === undefined
      ? undefined
      : new Database(job.serviceDb, { readonly: true, fileMustExist: true });
  const chunks = job.chunksDb === undefined ? undefined : openChunkStore(job.chunksDb);
  try {
    serviceDb?.pragma("busy_timeout = 5000");
    // service.db's read snapshot first, then the ledger's: the node commits entries to ledger.db before
    // their commands to service.db, so the ledger snapshot holds every entry the rows reflect (and maybe
    // more, which the row checks leave for the next run: `stateSize`).
    serviceDb?.exec("BEGIN");
    try {
      const stateSize = serviceDb === undefined ? undefined : appliedLedgerSize(serviceDb);
      return storage.readSnapshot(() =>
        runFullCheck({
          storage,
          access,
          logKey: parseVerifierKey(job.logKey),
          published: job.published,
          serviceDb,
          stateSize,
          // The same moment's applied size: what the copy must hold, its last rows included.
          appliedSize: stateSize,
          chunks,
          concurrentAppends: true,
        }),
      );
    } finally {
      if (serviceDb?.inTransaction === true) serviceDb.exec("ROLLBACK");
    }
  } finally {
    chunks?.close();
    serviceDb?.close();
    access.close();
    storage.close();
  }
}
