/**
 * The rolling full check off the node's main thread: a pass over a large copy takes seconds, and a
 * synchronous check in the node's own thread would stall applying, cosigning and every request for
 * that long. `runFullCheckInWorker` runs `full-check.ts` in a worker thread (`full-check-worker.ts`)
 * over the node's files opened by path, and resolves with the same result.
 *
 * The worker script exists only in the build (dist/); from sources (vitest) the check runs in this
 * thread over the same files, so the result is the same either way (`inWorker` says which it was).
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { ClusterError } from "../errors.js";
import type { FullCheckResult } from "./full-check.js";
import { checkJob, type FullCheckJob, type FullCheckReply } from "./full-check-job.js";

export type { FullCheckJob, FullCheckReply } from "./full-check-job.js";

const WORKER_URL = new URL("./full-check-worker.js", import.meta.url);

/** True when checks can leave this thread (the build is there). */
export function fullCheckWorkerAvailable(): boolean {
  return existsSync(fileURLToPath(WORKER_URL));
}

/**
 * One full check in a worker thread (in this thread when the worker script is missing).
 * @throws ClusterError CLUSTER_INTEGRITY_CHECK_FAILED when the check itself failed (unreadable file)
 */
export async function runFullCheckInWorker(
  job: FullCheckJob,
): Promise<FullCheckResult & { readonly inWorker: boolean }> {
  if (!fullCheckWorkerAvailable()) return { ...checkJob(job), inWorker: false };
  const reply = await new Promise<FullCheckReply>((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { workerData: job });
    let answered = false;
    worker.once("message", (r: FullCheckReply) => {
      answered = true;
      resolve(r);
    });
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (!answered) reject(new Error(`full-check worker exited with ${code}`));
    });
  }).catch((cause: unknown) => ({ error: String(cause) }));
  if ("error" in reply) {
    throw new ClusterError("CLUSTER_INTEGRITY_CHECK_FAILED", "整合性の点検を実行できませんでした", {
      error: reply.error.slice(0, 300),
    });
  }
  return { ...reply.result, inWorker: true };
}
