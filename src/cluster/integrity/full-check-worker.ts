/**
 * Worker thread of `full-check-thread.ts`: opens the node's files by path on connections of its own,
 * runs the full check once inside one read snapshot of the ledger file, and posts the result (findings
 * are plain, log-safe objects). The node's own thread keeps applying and answering meanwhile.
 */
import Database from "better-sqlite3";
import { parentPort, workerData } from "node:worker_threads";
import { parseVerifierKey } from "../../ledger/verify/verifier-key.js";
import { openChunkStore } from "../../store/chunk-store.js";
import { openLogRepairAccess } from "../../store/sqlite-log-repair.js";
import { openSqliteLog } from "../../store/sqlite-log.js";
import type { FullCheckJob, FullCheckReply } from "./full-check-thread.js";
import { runFullCheck } from "./full-check.js";

const job = workerData as FullCheckJob;

function run(): FullCheckReply {
  const storage = openSqliteLog(job.ledgerDb);
  const access = openLogRepairAccess(job.ledgerDb);
  const serviceDb =
    job.serviceDb === undefined
      ? undefined
      : new Database(job.serviceDb, { readonly: true, fileMustExist: true });
  const chunks = job.chunksDb === undefined ? undefined : openChunkStore(job.chunksDb);
  try {
    serviceDb?.pragma("busy_timeout = 5000");
    const result = storage.readSnapshot(() =>
      runFullCheck({
        storage,
        access,
        logKey: parseVerifierKey(job.logKey),
        published: job.published,
        serviceDb,
        chunks,
        concurrentAppends: true,
      }),
    );
    return { result };
  } finally {
    chunks?.close();
    serviceDb?.close();
    access.close();
    storage.close();
  }
}

if (parentPort !== null) {
  let reply: FullCheckReply;
  try {
    reply = run();
  } catch (error) {
    reply = { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
  parentPort.postMessage(reply);
}
