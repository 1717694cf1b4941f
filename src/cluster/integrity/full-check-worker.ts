/**
 * Worker thread of `full-check-thread.ts`: runs the full check of its job once (`full-check-job.ts`)
 * and posts the result (findings are plain, log-safe objects). The node's own thread keeps applying and
 * answering meanwhile.
 */
import { parentPort, workerData } from "node:worker_threads";
import { checkJob, type FullCheckJob, type FullCheckReply } from "./full-check-job.js";

if (parentPort !== null) {
  let reply: FullCheckReply;
  try {
    reply = { result: checkJob(workerData as FullCheckJob) };
  } catch (error) {
    reply = { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
  parentPort.postMessage(reply);
}
