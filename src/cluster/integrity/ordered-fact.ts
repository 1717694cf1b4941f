/**
 * Writes a fact whose values must land in the order they were given, the last one staying (a node's
 * health snapshot in etcd, health-facts.ts): one put at a time, in order; a put that fails is tried again
 * until it lands, unless newer values wait behind it — then they are what counts, and only the newest of
 * them is tried.
 *
 * Why: the node's health changes in bursts (quarantined → repairing → healthy within a second or two)
 * and each change used to start its own put. Puts in flight together may go to different etcd members
 * and land in any order, so the fact left in etcd could be an older state than the node's (monitoring and
 * `kenshin cluster status` showing "quarantined" for a node that rejoined) — and a put that failed (no
 * majority for a moment) was dropped, leaving the fact stale until the next change. Each state is still
 * written while etcd answers, so whoever watches the fact sees the quarantine that preceded a repair.
 */
export interface OrderedFact<T> {
  /** Queues the fact's next value: written after every value given before it. */
  publish(value: T): void;
  /** Stops writing; resolves once a put in flight has ended (bounded by the put's own deadline). */
  stop(): Promise<void>;
}

/** Values waiting at most (a burst longer than this keeps its newest ones). */
const MAX_WAITING = 32;

export function orderedFact<T>(
  put: (value: T) => Promise<void>,
  o: { readonly retryMs?: number; readonly onError?: (error: unknown) => void } = {},
): OrderedFact<T> {
  const retryMs = o.retryMs ?? 1000;
  const waiting: T[] = [];
  let stopped = false;
  let wake: (() => void) | undefined;
  let running: Promise<void> | undefined;

  const pause = (): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(done, retryMs);
      function done(): void {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      // A newer value or stop() ends the pause early.
      wake = done;
    });

  const drain = async (): Promise<void> => {
    while (waiting.length > 0 && !stopped) {
      const value = waiting[0] as T;
      try {
        await put(value);
        waiting.shift();
      } catch (error) {
        o.onError?.(error);
        // Newer values make this one (and all but the newest of them) history not worth a retry.
        if (waiting.length > 1) waiting.splice(0, waiting.length - 1);
        else await pause();
      }
    }
  };

  const kick = (): void => {
    if (running !== undefined || stopped) return;
    running = drain().finally(() => {
      running = undefined;
      // A value given after the loop's last look and before this turn: written too.
      if (waiting.length > 0) kick();
    });
  };

  return {
    publish(value) {
      if (stopped) return;
      waiting.push(value);
      if (waiting.length > MAX_WAITING) waiting.splice(1, waiting.length - MAX_WAITING);
      if (wake !== undefined) wake();
      else kick();
    },
    async stop() {
      stopped = true;
      wake?.();
      await running;
    },
  };
}
