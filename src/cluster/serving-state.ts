/**
 * Whether an online node serves its users now, and if not why: the one decision the user-facing
 * server follows (server/quarantine-gate.ts — `/api/v1/health`, the listening socket, the refusal of a
 * request on a connection still open), so that haproxy's HTTPS check takes the node out and its users
 * are served by another node.
 *
 * - Its copy failed a check (integrity/node-health.ts: quarantined or repairing): refused with
 *   `CLUSTER_QUARANTINED` (issue 11).
 * - It is catching up: its presence says "catching-up" (node-presence.ts `presenceState`, the rule
 *   monitoring shows: from the node's start until its applied batch was within `caughtUpLag` of the log
 *   head once, and again whenever it falls more than `behindLag` behind) *and* its last lag sample read
 *   the head from etcd (service/cluster/head-lag.ts samples it every 500 ms): refused with
 *   `CLUSTER_CATCHING_UP` until it is near the head. Before, such a node served, and each request
 *   waited up to 3 s for what was ordered before it (`caughtUp`).
 * - Otherwise it serves. Catching up means "etcd has a head I have not applied yet, and I can read it",
 *   never "no majority": without a majority presence says "read-only" (the head cannot be read) and the
 *   survivor of two nodes down keeps serving reads (quorum-guard.ts) — and when the head cannot be read
 *   now, the node serves what it has, as `caughtUp` does.
 *
 * Positions and codes only: nothing here names a user or a transfer.
 */
import type { ClusterErrorCode } from "./errors.js";
import type { NodeState as PresenceState } from "./node-presence.js";

/** Why a node does not serve users. */
export type ServingRefusalCode = Extract<ClusterErrorCode, "CLUSTER_QUARANTINED" | "CLUSTER_CATCHING_UP">;

export interface ServingRefusal {
  readonly code: ServingRefusalCode;
  /** For people (Japanese), as every refusal. */
  readonly message: string;
}

/** The integrity side, as node-health.ts gives it. */
export interface IntegrityServing {
  serving(): boolean;
  snapshot(): { readonly state: string; readonly since: string };
  onChange(listener: () => void): () => void;
}

/** The presence side, as node-presence.ts's publisher gives it. */
export interface PresenceServing {
  current(): PresenceState;
  since(): string;
  /** Whether its last facts had a lag: the log head was read from etcd. */
  lagKnown(): boolean;
  /** Recomputes the state from the facts now (synchronously; the write to etcd follows). */
  refresh(): Promise<void>;
  onChange(listener: (state: PresenceState) => void): () => void;
}

/** What the server follows (server/quarantine-gate.ts NodeHealthView). */
export interface ServingState {
  serving(): boolean;
  /** Why not, while not serving (undefined while serving). */
  refusal(): ServingRefusal | undefined;
  /** The state monitoring names ("healthy", "quarantined", "repairing", "catching-up") and since when. */
  snapshot(): { readonly state: string; readonly since: string };
  onChange(listener: () => void): () => void;
}

export const QUARANTINED_MESSAGE = "このノードは点検のため利用を停止しています";
export const CATCHING_UP_MESSAGE = "このノードは他のノードの記録に追いつくまで利用を停止しています";

/** The node's serving state from its integrity health and its presence. */
export function servingState(o: {
  readonly integrity: IntegrityServing;
  readonly presence: PresenceServing;
}): ServingState {
  const catchingUp = (): boolean => o.presence.current() === "catching-up" && o.presence.lagKnown();
  const refusal = (): ServingRefusal | undefined => {
    if (!o.integrity.serving()) return { code: "CLUSTER_QUARANTINED", message: QUARANTINED_MESSAGE };
    if (catchingUp()) return { code: "CLUSTER_CATCHING_UP", message: CATCHING_UP_MESSAGE };
    return undefined;
  };
  return {
    serving: () => refusal() === undefined,
    refusal,
    snapshot() {
      const integrity = o.integrity.snapshot();
      if (integrity.state === "healthy" && catchingUp()) {
        return { state: "catching-up", since: o.presence.since() };
      }
      return integrity;
    },
    onChange(listener) {
      // The listener (the server's) only re-reads the decision: told more often than it changes is fine.
      const stops = [
        // The presence's state follows the integrity's too (quarantined masks catching-up): recompute it
        // first, whoever else was told of the change before us.
        o.integrity.onChange(() => {
          void o.presence.refresh();
          listener();
        }),
        o.presence.onChange(() => {
          listener();
        }),
      ];
      return () => {
        for (const stop of stops) stop();
      };
    },
  };
}
