/**
 * The node's etcd clients: the quorum probe's own (quorum-probe.ts), and the client for all its other
 * etcd traffic (command log, watch, presence, leases, facts).
 *
 * Both replace the fault handling etcd3 puts in front of each host by default: a circuit breaker that
 * opens after 3 consecutive recoverable failures and lets a call through again (half-open) only after
 * 5 s. While no majority answers, every linearizable call misses its deadline — a recoverable failure —
 * so every host's breaker opens, and once the majority is back each stays open for up to 5 s: the probe
 * kept saying "no majority" for those seconds with etcd whole again, and on the node's client a state
 * change (its submission, retried every 200 ms) met open circuits instead of etcd — as would the
 * presence lease's renewals (a 5 s TTL) and the watch's reconnections. https://github.com/microsoft/etcd3 `IOptions.faultHandling`,
 * https://github.com/connor4312/cockatiel.
 *
 * The probe's client has no breaker (`noop` per host): each check really reads. Its global policy tries
 * the next host once per host on a recoverable failure (a SIGKILLed member answers UNAVAILABLE at once,
 * and the read goes to a live one within the same deadline), so one dead member is never a "miss". Each
 * check is one read with one deadline, so a retry after a missed deadline fails at once instead of
 * waiting again; the cost of a probe without majority stays one deadline per check.
 *
 * The node's client keeps a breaker per host, for what it is good at: passing over a member that does
 * not answer while the others do. A member that is gone without refusing (a powered-off machine, a
 * firewall dropping packets) leaves every call sent to it waiting for its deadline — which, being a
 * point in time, no retry can extend — so without a breaker about one call in three would miss. Only
 * how long a circuit stays open differs from etcd3's default: 5 s while another member of the client
 * has answered since it opened (one member failing: the default), {@link NO_ANSWER_HALF_OPEN_MS} while
 * none has (no majority, or no member at all: the circuits are not telling a bad host from the rest, so
 * each lets a call through again soon and meets etcd as soon as it is whole). Never longer than today.
 */
import {
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  noop,
  retry,
  type IBackoff,
  type IHalfOpenAfterBackoffContext,
  type IPolicy,
} from "cockatiel";
import { Etcd3, isRecoverableError } from "etcd3";

/** Consecutive recoverable failures that open a host's circuit (etcd3's default). */
const FAILURES_TO_OPEN = 3;
/** How long a host's circuit stays open while another member answers (etcd3's default). */
export const HOST_OPEN_MS = 5000;
/** How long a host's circuit stays open while no member of the client has answered since it opened. */
export const NO_ANSWER_HALF_OPEN_MS = 250;

/** An etcd client for the quorum probe only: no circuit breaker, each host tried once per call. */
export function openQuorumProbeClient(hosts: readonly string[], o: { dialTimeoutMs?: number } = {}): Etcd3 {
  return new Etcd3({
    hosts: [...hosts],
    dialTimeout: o.dialTimeoutMs ?? 2000,
    faultHandling: {
      host: () => noop,
      global: retry(handleWhen(isRecoverableError), { maxAttempts: Math.max(0, hosts.length - 1) }),
    },
  });
}

/**
 * The node's etcd client for everything but the quorum probe: per host, a breaker that opens after 3
 * failures for 5 s while another member answers, and for {@link NO_ANSWER_HALF_OPEN_MS} while none has
 * (see the file comment); etcd3's default global retry (another host, up to 3 times).
 */
export function openNodeEtcdClient(
  hosts: readonly string[],
  o: { dialTimeoutMs?: number; now?: () => number } = {},
): Etcd3 {
  return new Etcd3({
    hosts: [...hosts],
    dialTimeout: o.dialTimeoutMs ?? 2000,
    faultHandling: { host: nodeHostBreakers(o.now ?? Date.now) },
  });
}

/**
 * The per-host policies of one node client (`faultHandling.host`): one breaker per host, sharing when
 * any of them last had an answer. Exported for its test.
 */
export function nodeHostBreakers(now: () => number): (host: string) => IPolicy {
  let lastAnswerAt = Number.NEGATIVE_INFINITY;
  // cockatiel reads `duration` on every call while the circuit is open, so it follows the answers that
  // come in meanwhile: a circuit opened with no answer anywhere becomes a 5 s one once another answers.
  const openedNow = (): IBackoff<IHalfOpenAfterBackoffContext> => {
    const openedAt = now();
    return {
      get duration() {
        return lastAnswerAt > openedAt ? HOST_OPEN_MS : NO_ANSWER_HALF_OPEN_MS;
      },
      next: openedNow,
    };
  };
  return () => {
    const breaker = circuitBreaker(handleWhen(isRecoverableError), {
      breaker: new ConsecutiveBreaker(FAILURES_TO_OPEN),
      halfOpenAfter: { next: openedNow },
    });
    breaker.onSuccess(() => {
      lastAnswerAt = now();
    });
    return breaker;
  };
}
