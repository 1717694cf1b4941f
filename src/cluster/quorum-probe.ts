/**
 * Does this node still reach a majority? The answer comes from etcd itself: a linearizable read
 * (etcd's default range request, which goes through Raft's read index) succeeds only while a majority
 * of voting members answers the leader, so "the read came back within the deadline" is exactly "an
 * ordered write could be committed now". Nothing is guessed from counting peers.
 *
 * One slow answer is not "no majority": on a loaded machine a linearizable read can miss its deadline
 * now and then while the cluster is whole, and each miss would refuse the state changes of that moment
 * with a 503. The answer turns to "no quorum" after `failuresForNoQuorum` consecutive misses (default
 * 2; the second check follows the first at once), and back to "quorum" at the first success.
 *
 * The probe checks on an interval (bounded by a per-check deadline, never overlapping) and on demand,
 * keeps the last answer for synchronous callers (a read is decided on it without waiting), and tells
 * listeners when the answer changes (the guard drains its pending queue when quorum is back).
 *
 * A kept "majority" is only as new as the last read that came back: right after the majority is lost
 * the probe still says "majority" until its check has missed twice (up to two deadlines). That is why,
 * with two of three etcd members just SIGKILLed, a state change could still be let through into the
 * ordering and wait there for its whole ordering timeout (service-no-quorum, CI of 2026-12-01: the
 * upload before it had been refused by the *payload* quorum, the same code, not by the probe; no
 * linearizable read ever came back with two members down). So a state change asks {@link
 * QuorumProbe.confirm}: the kept answer while a read came back within `freshMs`, otherwise the verdict
 * of the check in flight (bounded by two deadlines) — a majority lost a moment ago is then "no majority"
 * before anything is ordered.
 */
import type { Etcd3 } from "etcd3";

export interface QuorumProbe {
  /** The last answer (initially true: a node starts assuming its cluster, and the first check corrects it). */
  hasQuorum(): boolean;
  /** Checks now and returns the fresh answer (bounded by the probe's timeout). */
  check(): Promise<boolean>;
  /**
   * The answer a state change is decided on: "majority" only when a read came back within `freshMs`
   * (else the running check's verdict, at most two deadlines); "no majority" as kept.
   */
  confirm(): Promise<boolean>;
  /** Called with each change of the answer; returns the unsubscribe function. */
  onChange(listener: (quorum: boolean) => void): () => void;
  /** When the answer last changed (ms since the epoch). */
  since(): number;
  close(): void;
}

export interface EtcdQuorumProbeOptions {
  /** The key read (any key; it need not exist). */
  readonly key: string;
  readonly intervalMs?: number;
  /** Deadline of one check; a majority answers far faster (one Raft heartbeat round). */
  readonly timeoutMs?: number;
  /** Consecutive failed checks before the answer is "no quorum" (default 2). */
  readonly failuresForNoQuorum?: number;
  /** How old the last good read may be for `confirm()` to answer "majority" at once (default 2 intervals). */
  readonly freshMs?: number;
  readonly now?: () => number;
}

export function createEtcdQuorumProbe(client: Etcd3, o: EtcdQuorumProbeOptions): QuorumProbe {
  const intervalMs = o.intervalMs ?? 500;
  const timeoutMs = o.timeoutMs ?? 1500;
  const now = o.now ?? Date.now;
  let quorum = true;
  let changedAt = now();
  let running: Promise<boolean> | undefined;
  let closed = false;
  const needed = Math.max(1, o.failuresForNoQuorum ?? 2);
  let failures = 0;
  const freshMs = o.freshMs ?? 2 * intervalMs;
  /** When the last read that came back was sent (ms since the epoch; none yet: never). */
  let goodAt = Number.NEGATIVE_INFINITY;
  const listeners = new Set<(quorum: boolean) => void>();

  const set = (value: boolean): void => {
    if (value === quorum) return;
    quorum = value;
    changedAt = now();
    for (const l of listeners) {
      try {
        l(value);
      } catch {
        // A listener's failure is its own; the probe goes on.
      }
    }
  };

  const readOnce = async (): Promise<boolean> => {
    const sentAt = now();
    try {
      await client
        .get(o.key)
        .options({ deadline: Date.now() + timeoutMs })
        .exec();
      goodAt = Math.max(goodAt, sentAt);
      return true;
    } catch {
      return false;
    }
  };

  const check = (): Promise<boolean> => {
    running ??= (async () => {
      try {
        for (;;) {
          const ok = await readOnce();
          if (closed) break;
          if (ok) {
            failures = 0;
            set(true);
            break;
          }
          failures++;
          if (failures >= needed) {
            set(false);
            break;
          }
          // While it still says "quorum", a miss is checked again at once.
          if (!quorum) break;
        }
      } finally {
        running = undefined;
      }
      return quorum;
    })();
    return running;
  };

  const timer = setInterval(() => {
    void check();
  }, intervalMs);
  timer.unref();
  void check();

  return {
    hasQuorum: () => quorum,
    check,
    async confirm() {
      if (!quorum) return false;
      if (now() - goodAt < freshMs) return true;
      return check();
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    since: () => changedAt,
    close() {
      closed = true;
      clearInterval(timer);
      listeners.clear();
    },
  };
}
