/**
 * Full checks asked for by requests (issue 11): a user request whose transfer no longer verifies on this
 * node (service/transfers/integrity.ts `raiseIntegrityAlarm`) is refused with 503 INTEGRITY_FAILURE and
 * asks for the node's full check at once, so the node quarantines itself and repairs from a peer now —
 * not when the rolling schedule (minutes in production) comes round while its users keep getting 503s.
 *
 * Many requests can meet the same damage at once, and a request is never a reason to check without
 * pause, so the requests are coalesced: one run at a time; requests while a run is under way give one
 * more run after it (that run sees whatever damage they met); at least `minGapMs` between the end of one
 * run and the start of the next; and none while the node is already out of service for its integrity
 * (quarantined or repairing: a check or repair is dealing with it). Asking never throws and never waits:
 * the request that asked is refused as it would have been.
 *
 * Pure scheduling: the run, the clock and the timer are injected (the node passes
 * `NodeIntegrity.runNow`, `performance.now` and `setTimeout`).
 */
import { ClusterError } from "../errors.js";

/** Least time between two requested runs, by default (the end of one to the start of the next). */
export const CHECK_REQUEST_GAP_MS = 5000;

export interface CheckRequestOptions {
  /** One full check, and its repair when it finds damage (`NodeIntegrity.runNow`). */
  readonly run: () => Promise<unknown>;
  /** True while a check or repair already deals with damage (the node is quarantined or repairing). */
  readonly busy: () => boolean;
  /** Least time between the end of one requested run and the start of the next (default 5 s). */
  readonly minGapMs?: number;
  /** Monotonic milliseconds. */
  readonly now: () => number;
  /** Calls `fn` once after `ms`; returns the way to cancel it. */
  readonly schedule: (fn: () => void, ms: number) => () => void;
  /** Told when a run fails (the next request runs again). */
  readonly onError?: (error: unknown) => void;
}

export interface CheckRequests {
  /** A request met damage: run the full check as soon as the rules above allow (never throws). */
  request(): void;
  /** No more runs; waits for the one under way. */
  stop(): Promise<void>;
}

export function startCheckRequests(o: CheckRequestOptions): CheckRequests {
  const gap = o.minGapMs ?? CHECK_REQUEST_GAP_MS;
  if (!Number.isFinite(gap) || gap < 0) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "点検の要求の間隔が正しくありません", { minGapMs: gap });
  }
  let stopped = false;
  let running: Promise<void> | undefined;
  /** A request arrived while a run was under way. */
  let again = false;
  let cancelTimer: (() => void) | undefined;
  let lastEnded: number | undefined;

  const start = (): void => {
    const run = (async () => {
      try {
        await o.run();
      } catch (error) {
        o.onError?.(error);
      }
    })();
    // Settled in a later turn, so `running` is set before it is cleared (even when `run` threw at once).
    running = run
      .catch(() => undefined)
      .then(() => {
        lastEnded = o.now();
        running = undefined;
        if (again) {
          again = false;
          request();
        }
      });
  };

  const ask = (): void => {
    if (stopped) return;
    if (running !== undefined) {
      again = true;
      return;
    }
    // A run is already due.
    if (cancelTimer !== undefined) return;
    if (o.busy()) return;
    const wait = lastEnded === undefined ? 0 : lastEnded + gap - o.now();
    if (wait <= 0) {
      start();
      return;
    }
    // Asked again when due: quarantined meanwhile (the schedule's check found it), it does not run.
    cancelTimer = o.schedule(() => {
      cancelTimer = undefined;
      request();
    }, wait);
  };

  // Hoisted: a run's end asks again through it.
  function request(): void {
    try {
      ask();
    } catch (error) {
      // `busy`, `now` or `schedule` failed: the request that asked is refused anyway.
      o.onError?.(error);
    }
  }

  return {
    request,
    async stop() {
      stopped = true;
      cancelTimer?.();
      cancelTimer = undefined;
      await running;
    },
  };
}
