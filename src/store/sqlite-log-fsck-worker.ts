/**
 * Worker thread of `sqlite-log-fsck.ts`: opens the ledger file, and for each of its pages runs the
 * entry checks (`sqlite-log-fsck-page.ts`), posting the page's leaf hashes and the first damage found.
 * Stops after the first damage (the coordinator stops there too).
 */
import { parentPort, workerData } from "node:worker_threads";
import type { FsckWorkerJob } from "./sqlite-log-fsck.js";
import { checkPage } from "./sqlite-log-fsck-page.js";
import { openSqliteLog } from "./sqlite-log.js";

const job = workerData as FsckWorkerJob;
const port = parentPort;

if (port !== null) {
  const storage = openSqliteLog(job.path);
  try {
    storage.readSnapshot(() => {
      for (let page = 0; page < job.pages; page++) {
        if (!job.slots.includes(page % job.cycle)) continue;
        const result = checkPage(storage, job, page);
        port.postMessage(result, [result.leaves]);
        if (result.failure !== undefined || result.error !== undefined) return;
      }
    });
  } finally {
    storage.close();
  }
}
