/**
 * Bounded polling: every wait in the cluster harness ends, either with the condition met or with a coded
 * timeout that says what was awaited. Nothing here sleeps unboundedly.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ClusterError } from "../errors.js";

export interface WaitOptions {
  /** What is awaited, for the timeout error's context (no personal data). */
  readonly what: string;
  readonly timeoutMs: number;
  readonly intervalMs?: number;
}

/**
 * Calls `probe` until it returns a value other than `undefined` (or stops throwing), at most until
 * `timeoutMs` has passed.
 * @throws ClusterError CLUSTER_WAIT_TIMEOUT with the last probe error as cause
 */
export async function waitFor<T>(probe: () => Promise<T | undefined>, o: WaitOptions): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  const interval = o.intervalMs ?? 100;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      // A process that has exited will not become ready: no point waiting out the timeout.
      if (error instanceof ClusterError && error.code === "CLUSTER_PROCESS_EXITED") throw error;
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new ClusterError(
        "CLUSTER_WAIT_TIMEOUT",
        `待機が時間切れになりました: ${o.what}`,
        { what: o.what, timeoutMs: o.timeoutMs },
        { cause: lastError },
      );
    }
    await sleep(interval);
  }
}
