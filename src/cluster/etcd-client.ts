/**
 * The quorum probe's own etcd client (quorum-probe.ts), kept apart from the node's client for all its
 * other etcd traffic (command log, watch, presence, facts).
 *
 * Why its own, with its own fault handling: the etcd3 client puts a circuit breaker in front of each
 * host (by default: open after 3 consecutive recoverable failures, half-open only after 5 s). While no
 * majority answers, every linearizable read misses its deadline — a recoverable failure — so every
 * host's breaker opens, and once the majority is back each stays open for up to 5 s: the probe,
 * sharing the node's client, kept saying "no majority" (state changes refused with CLUSTER_NO_QUORUM)
 * for those seconds with etcd whole again. A probe must measure etcd, not the client's memory of it.
 *
 * So this client has no breaker (`noopPolicy` per host): each check really reads. Instead its global
 * policy tries the next host once per host on a recoverable failure (a SIGKILLed member answers
 * UNAVAILABLE at once, and the read goes to a live one within the same deadline), so one dead member is
 * never a "miss". Each check is one read with one deadline (quorum-probe.ts), so a retry after a
 * missed deadline fails at once instead of waiting again; the cost of a probe without majority stays
 * one deadline per check. https://github.com/microsoft/etcd3 `IOptions.faultHandling`,
 * https://github.com/connor4312/cockatiel.
 */
import { handleWhen, noop, retry } from "cockatiel";
import { Etcd3, isRecoverableError } from "etcd3";

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
