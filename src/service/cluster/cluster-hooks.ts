/**
 * What the service needs of the cluster, when it runs as one (service/ledger-port.ts sets it for a
 * data directory holding a `cluster-node.json`, service/cluster/cluster-node.ts; a single node has none):
 * the upload path waits until a majority of online nodes holds the sealed payload before anything is
 * acknowledged (cluster/payload-replication.ts) and names it in its command; each request first waits
 * until this node applied what the cluster had ordered when it arrived (so a session or transfer made
 * through another node is there); the office's monitoring shows each node's role, state, lag and last
 * cosigned size (cluster/node-overview.ts).
 */
import type { PayloadReference } from "../../cluster/payload-manifest.js";
import type { ReplicatedPayload } from "../state-commands/command.js";

/** One node as the office's monitoring shows it (names and numbers only). */
export interface ClusterNodeView {
  readonly name: string;
  readonly role: "online" | "offline" | "unknown";
  readonly state: "serving" | "read-only" | "catching-up" | "quarantined" | "down";
  readonly applied: number;
  readonly lag: number;
  readonly lastCosignedSize: number;
}

export interface ClusterMonitoring {
  /** False when etcd could not be read in time (the rest is then absent). */
  readonly available: boolean;
  readonly head?: number;
  readonly sequencer?: string | null;
  readonly publishedSize?: number;
  readonly nodes?: readonly ClusterNodeView[];
}

export interface ClusterHooks {
  /**
   * Resolves once a majority of online nodes (this one included) holds every sealed chunk durably.
   * @throws ClusterError CLUSTER_NO_QUORUM (HTTP 503): nothing may be acknowledged
   */
  replicatePayload(
    payload: {
      readonly transfer: string;
      readonly kind: "original" | "standard";
      /** The KEK-wrapped data key, carried in the payload's manifest (not in the command). */
      readonly key: { readonly kekId: string; readonly bytes: Uint8Array };
    },
    blobs: Iterable<Uint8Array>,
  ): Promise<{ readonly reference: PayloadReference }>;
  /** The cluster section of the monitoring view (bounded; never throws). */
  monitoring(): Promise<ClusterMonitoring>;
  /**
   * Resolves once this node applied every batch ordered before the call (bounded; without a majority
   * it resolves at once: the survivor serves what it has).
   */
  caughtUp?(): Promise<void>;
  /** True while this node can order state changes (a majority of etcd's voting members answers). */
  hasQuorum?(): boolean;
  /**
   * Whether the node serves users (cluster/serving-state.ts: its integrity state, and whether it is
   * catching up): while it is not serving (quarantined, repairing, catching up), the server stops
   * accepting connections and refuses requests on open ones with a coded 503 (server/quarantine-gate.ts),
   * and haproxy takes the node out.
   */
  readonly nodeHealth?: {
    serving(): boolean;
    snapshot(): { readonly state: string; readonly since: string };
    /** Why not (CLUSTER_QUARANTINED, CLUSTER_CATCHING_UP), while not serving. */
    refusal?(): { readonly code: string; readonly message: string } | undefined;
    /** Told of every change (the server's listener follows it); returns the way to stop. */
    onChange(listener: () => void): () => void;
  };
  /**
   * A request met damage on this node (service/transfers/integrity.ts `raiseIntegrityAlarm`): run the
   * full check now, so the node quarantines itself and repairs from a peer instead of refusing its users
   * until the rolling schedule comes round (cluster/integrity/check-request.ts coalesces the requests).
   * Never throws and never blocks the request, which is refused as before.
   */
  checkIntegrityNow?(): void;
  /** Stops the cluster side (the ledger port, then the agent); the caller closes service.db after. */
  stop?(): Promise<void>;
}

/**
 * What a replicated upload's command carries to name its payload (state-commands ReplicatedPayload):
 * the manifest's address and chunk count, and the id of the KEK its data key is wrapped under (so that
 * every node refuses alike an upload ordered after a rotation away from that KEK); the wrapped data key
 * itself is in the manifest.
 */
export function replicatedPayload(reference: PayloadReference, kekId: string): ReplicatedPayload {
  return { manifest: reference.manifest, chunks: reference.chunks, kekId };
}
