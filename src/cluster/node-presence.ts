/**
 * Each node says in etcd what it is doing, under a lease: `presence/<node>` holds
 * `{"role","state","since"}` and disappears by itself a few seconds after the node dies (its lease
 * is no longer renewed), so monitoring shows a dead node as "down" without anyone having to notice.
 *
 * States: "serving" (in the cluster, applying and answering), "read-only" (an online node while no
 * majority is reachable: reads only, quorum-guard.ts), "catching-up" (started, or fallen behind, and
 * applying the log up to the head), "quarantined" (its copy failed a check, or it is repairing it; it
 * neither serves nor cosigns — issue 11). The offline node reports "serving" when it follows and cosigns.
 *
 * One function decides the state ({@link presenceState}) from the node's facts — its integrity health,
 * the quorum probe's answer, its lag behind the log head — and the publisher is the only writer of the
 * key: whoever learns a fact calls `refresh()`, nobody sets a state. So a quorum flip cannot overwrite
 * "quarantined", and a node that restarts behind the head shows "catching-up" until it is near it.
 *
 * The lease is this node's own (own-lease.ts: renewed only by its own loop, never after it was given
 * up), not the etcd3 client's keep-alive, which kept renewing leases it had given up. While etcd has no
 * majority the key cannot be refreshed; readers see the last value until the lease expires, and a
 * survivor's own view (its /health and monitoring) comes from its local state instead.
 */
import type { Etcd3 } from "etcd3";
import type { NodeRole } from "./cluster-topology.js";
import type { NodeState as HealthState } from "./integrity/node-health.js";
import { grantOwnLease, type OwnLease } from "./own-lease.js";
import type { QuorumProbe } from "./quorum-probe.js";

export type NodeState = "serving" | "read-only" | "catching-up" | "quarantined";

export const NODE_STATES: readonly NodeState[] = ["serving", "read-only", "catching-up", "quarantined"];

export interface Presence {
  readonly role: NodeRole;
  readonly state: NodeState;
  /** ISO time the state was entered. */
  readonly since: string;
}

/** What the node knows about itself; each fact from its own source. */
export interface PresenceFacts {
  /** Its integrity (integrity/node-health.ts); absent until the integrity side started. */
  readonly health?: HealthState;
  /** The quorum probe's answer. */
  readonly quorum: boolean;
  /** Batches between the log head and what this node applied; absent when not known now. */
  readonly lag?: number;
}

/** When a node counts as behind (in command-log batches). */
export interface LagBounds {
  /** Caught up again (and at start: serving) once the lag is at most this (default 2). */
  readonly caughtUpLag: number;
  /** Catching up again once the lag is above this (default 64; a busy follower is a few batches behind). */
  readonly behindLag: number;
}

export const DEFAULT_LAG_BOUNDS: LagBounds = { caughtUpLag: 2, behindLag: 64 };

/**
 * The one rule for a node's state. In order: a copy that failed a check (quarantined, repairing) is
 * "quarantined" whatever else is true; an online node without a majority is "read-only" (it cannot know
 * the head either); a node behind the head is "catching-up" — from its start until its lag was at most
 * `caughtUpLag` once, and again whenever it is above `behindLag` (the gap between the two keeps a busy
 * follower from flapping); otherwise "serving". `behind` is the lag rule's memory: the previous call's.
 */
export function presenceState(
  f: PresenceFacts,
  o: { readonly role: NodeRole; readonly behind: boolean; readonly bounds?: LagBounds },
): { state: NodeState; behind: boolean } {
  const bounds = o.bounds ?? DEFAULT_LAG_BOUNDS;
  let behind = o.behind;
  if (f.lag !== undefined) {
    if (f.lag <= bounds.caughtUpLag) behind = false;
    else if (f.lag > bounds.behindLag) behind = true;
  }
  if (f.health === "quarantined" || f.health === "repairing") return { state: "quarantined", behind };
  if (o.role === "online" && !f.quorum) return { state: "read-only", behind };
  if (behind || f.health === "catching-up") return { state: "catching-up", behind };
  return { state: "serving", behind };
}

export interface PresencePublisher {
  /** Recomputes the state from the facts and writes it when it changed (or the key was lost). */
  refresh(): Promise<void>;
  current(): NodeState;
  /** ISO time the current state was entered. */
  since(): string;
  /** Whether the facts of the last refresh had a lag (the log head was read from etcd). */
  lagKnown(): boolean;
  /**
   * Told when the computed state or {@link lagKnown} changed, at once (before the write to etcd, which
   * may wait on etcd): the node's user-facing decision follows it (serving-state.ts). Returns the way
   * to stop.
   */
  onChange(listener: (state: NodeState) => void): () => void;
  /** Revokes the lease: the node disappears from presence at once. */
  stop(): Promise<void>;
}

export function presenceKey(prefix: string, node: string): string {
  return `${prefix}presence/${node}`;
}

/**
 * Publishes this node's presence under an own lease of `ttlSeconds`. A lost lease (etcd unreachable
 * for a whole TTL) is granted again by the refresh timer, which also recomputes the state.
 */
export function publishPresence(
  client: Etcd3,
  o: {
    prefix: string;
    node: string;
    role: NodeRole;
    /** The node's facts now (called on every refresh). */
    facts: () => PresenceFacts;
    /** A node starts behind the head until its first lag measure says otherwise (default true). */
    startsBehind?: boolean;
    bounds?: LagBounds;
    ttlSeconds?: number;
    now?: () => Date;
    /** How often the state is recomputed and a lost lease granted again (ms). */
    refreshMs?: number;
    /** Deadline of each etcd call (ms, default 2000). */
    callMs?: number;
  },
): PresencePublisher {
  const now = o.now ?? (() => new Date());
  const ttl = o.ttlSeconds ?? 5;
  const callMs = o.callMs ?? 2000;
  let behind = o.startsBehind ?? true;
  let lagKnown = false;
  const compute = (): NodeState => {
    const facts = o.facts();
    lagKnown = facts.lag !== undefined;
    const next = presenceState(facts, {
      role: o.role,
      behind,
      ...(o.bounds ? { bounds: o.bounds } : {}),
    });
    behind = next.behind;
    return next.state;
  };
  let state = compute();
  let since = now().toISOString();
  let lease: OwnLease | undefined;
  /** What etcd holds under the current lease (undefined: nothing written under it yet). */
  let written: string | undefined;
  let stopped = false;
  const isStopped = (): boolean => stopped;
  let writing: Promise<void> = Promise.resolve();

  /** A write waits its turn already (it writes the state of its turn): no second one is queued. */
  let queued = false;
  const write = (): Promise<void> => {
    if (queued) return writing;
    queued = true;
    writing = writing.then(async () => {
      queued = false;
      if (stopped) return;
      try {
        if (lease === undefined || lease.ended()) {
          written = undefined;
          lease = await grantOwnLease(client, { ttlSeconds: ttl, callMs });
          if (isStopped()) {
            await lease.release();
            return;
          }
        }
        const value: Presence = { role: o.role, state, since };
        const text = JSON.stringify(value);
        if (text === written) return;
        await client
          .put(presenceKey(o.prefix, o.node))
          .value(text)
          .lease(lease.id)
          .options({ deadline: Date.now() + callMs })
          .exec();
        written = text;
      } catch {
        // etcd unreachable: the write is tried again at the next refresh; a lease that got no renewal
        // for a whole TTL ended by itself and is granted anew then.
        written = undefined;
      }
    });
    return writing;
  };

  const listeners = new Set<(state: NodeState) => void>();
  const refresh = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    const knewLag = lagKnown;
    const next = compute();
    const changed = next !== state || knewLag !== lagKnown;
    if (next !== state) {
      state = next;
      since = now().toISOString();
    }
    if (changed) for (const l of [...listeners]) l(next);
    return write();
  };

  const timer = setInterval(() => {
    void refresh();
  }, o.refreshMs ?? 1000);
  timer.unref();
  void write();

  return {
    refresh,
    current: () => state,
    since: () => since,
    lagKnown: () => lagKnown,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      stopped = true;
      listeners.clear();
      clearInterval(timer);
      await writing;
      const l = lease;
      lease = undefined;
      await l?.release();
    },
  };
}

/** Where a node's presence reads the facts its agent does not hold itself. */
export interface PresenceSources {
  readonly health?: () => HealthState;
  /** Batches behind the log head now; undefined when not known. */
  readonly lag?: () => number | undefined;
}

export interface NodePresence {
  readonly publisher: PresencePublisher;
  /** Adds sources (the node wiring, once its integrity and port exist) and refreshes. */
  sources(given: PresenceSources): void;
  stop(): Promise<void>;
}

/**
 * A cluster node's presence: the quorum from its probe (refreshed on each change), its health and lag
 * from the sources the node wiring gives; until a lag is known the node shows "catching-up".
 */
export function startNodePresence(
  client: Etcd3,
  o: {
    prefix: string;
    node: string;
    role: NodeRole;
    quorum: QuorumProbe;
    ttlSeconds?: number;
    refreshMs?: number;
    bounds?: LagBounds;
  },
): NodePresence {
  let sources: PresenceSources = {};
  const publisher = publishPresence(client, {
    prefix: o.prefix,
    node: o.node,
    role: o.role,
    facts: () => {
      const health = sources.health?.();
      const lag = sources.lag?.();
      return {
        quorum: o.quorum.hasQuorum(),
        ...(health === undefined ? {} : { health }),
        ...(lag === undefined ? {} : { lag }),
      };
    },
    ...(o.ttlSeconds === undefined ? {} : { ttlSeconds: o.ttlSeconds }),
    ...(o.refreshMs === undefined ? {} : { refreshMs: o.refreshMs }),
    ...(o.bounds === undefined ? {} : { bounds: o.bounds }),
  });
  const unsubscribe = o.quorum.onChange(() => {
    void publisher.refresh();
  });
  return {
    publisher,
    sources(given) {
      sources = { ...sources, ...given };
      void publisher.refresh();
    },
    async stop() {
      unsubscribe();
      await publisher.stop();
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
