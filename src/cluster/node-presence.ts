/**
 * Each node says in etcd what it is doing, under a lease: `presence/<node>` holds
 * `{"role","state","since"}` and disappears by itself a few seconds after the node dies (its lease is
 * no longer kept alive), so monitoring shows a dead node as "down" without anyone having to notice.
 *
 * States: "serving" (in the cluster, applying and answering), "read-only" (the survivor while no
 * majority is reachable: reads only, quorum-guard.ts), "catching-up" (started and applying the log up
 * to the head before it serves), "quarantined" (its copy failed a check; it neither serves nor
 * cosigns — issue 11). The offline node reports "serving" when it follows and cosigns.
 *
 * While etcd has no majority the key cannot be refreshed; readers see the last value until the lease
 * expires, and a survivor's own view (its /health and monitoring) comes from its local state instead.
 */
import type { Etcd3, Lease } from "etcd3";
import type { NodeRole } from "./cluster-topology.js";

export type NodeState = "serving" | "read-only" | "catching-up" | "quarantined";

export const NODE_STATES: readonly NodeState[] = ["serving", "read-only", "catching-up", "quarantined"];

export interface Presence {
  readonly role: NodeRole;
  readonly state: NodeState;
  /** ISO time the state was entered. */
  readonly since: string;
}

export interface PresencePublisher {
  /** Records a new state (no-op when unchanged). */
  set(state: NodeState): Promise<void>;
  current(): NodeState;
  /** Revokes the lease: the node disappears from presence at once. */
  stop(): Promise<void>;
}

export function presenceKey(prefix: string, node: string): string {
  return `${prefix}presence/${node}`;
}

/**
 * Publishes this node's presence under a lease of `ttlSeconds` (kept alive by the etcd client). A lost
 * lease (etcd unreachable for longer than the TTL) is re-granted on the next `set` or refresh.
 */
export function publishPresence(
  client: Etcd3,
  o: {
    prefix: string;
    node: string;
    role: NodeRole;
    initial: NodeState;
    ttlSeconds?: number;
    now?: () => Date;
    /** How often a lost lease is re-granted and the value re-put (ms). */
    refreshMs?: number;
  },
): PresencePublisher {
  const now = o.now ?? (() => new Date());
  const ttl = o.ttlSeconds ?? 5;
  let state = o.initial;
  let since = now().toISOString();
  let lease: Lease | undefined;
  let stopped = false;
  let writing: Promise<void> = Promise.resolve();

  const write = (): Promise<void> => {
    writing = writing
      .then(async () => {
        if (stopped) return;
        if (lease === undefined || lease.revoked()) {
          const fresh = client.lease(ttl, { autoKeepAlive: true });
          fresh.on("lost", () => {
            if (lease === fresh) lease = undefined;
          });
          lease = fresh;
        }
        const value: Presence = { role: o.role, state, since };
        await lease.put(presenceKey(o.prefix, o.node)).value(JSON.stringify(value));
      })
      .catch(() => {
        // etcd unreachable: the lease lapses and readers see the node as down; the refresh retries.
        lease = undefined;
      });
    return writing;
  };

  const timer = setInterval(() => {
    if (lease === undefined) void write();
  }, o.refreshMs ?? 1000);
  timer.unref();
  void write();

  return {
    async set(next) {
      if (next === state) return;
      state = next;
      since = now().toISOString();
      await write();
    },
    current: () => state,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await writing;
      const l = lease;
      lease = undefined;
      await l?.revoke().catch(() => undefined);
    },
  };
}

/** Reads every node's presence (nodes whose lease lapsed are simply absent). */
export async function readPresence(
  client: Etcd3,
  prefix: string,
  o: { timeoutMs?: number } = {},
): Promise<Record<string, Presence>> {
  const base = `${prefix}presence/`;
  const raw = await client
    .getAll()
    .prefix(base)
    .options({ deadline: Date.now() + (o.timeoutMs ?? 2000) })
    .strings();
  const out: Record<string, Presence> = {};
  for (const [key, value] of Object.entries(raw)) {
    try {
      const p = JSON.parse(value) as Partial<Presence>;
      if (
        (p.role === "online" || p.role === "offline") &&
        typeof p.state === "string" &&
        NODE_STATES.includes(p.state) &&
        typeof p.since === "string"
      ) {
        out[key.slice(base.length)] = { role: p.role, state: p.state, since: p.since };
      }
    } catch {
      // A value that is not ours is skipped, not trusted.
    }
  }
  return out;
}
