/**
 * What the service needs of the cluster, when it runs as one (service/node.ts or the server's start
 * sets it; a single node has none): the upload path waits until a majority of online nodes holds the
 * sealed payload before anything is acknowledged (cluster/payload-replication.ts), and the office's
 * monitoring shows each node's role, state, lag and last cosigned size (cluster/node-overview.ts).
 */

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
    payload: { readonly transfer: string; readonly kind: "original" | "standard" },
    blobs: Iterable<Uint8Array>,
  ): Promise<unknown>;
  /** The cluster section of the monitoring view (bounded; never throws). */
  monitoring(): Promise<ClusterMonitoring>;
}
