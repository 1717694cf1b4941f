import { EtcdError, GRPCGenericError } from "etcd3";
import { CodedError } from "../coded-error.js";

/** Codes of the cluster domain (etcd, peers, processes). */
export type ClusterErrorCode =
  // Supervised processes (etcd, haproxy) the harness starts.
  | "CLUSTER_BINARY_MISSING"
  | "CLUSTER_PROCESS_EXITED"
  | "CLUSTER_WAIT_TIMEOUT"
  | "CLUSTER_OPTION_INVALID"
  // Node identity and the peer payload transport.
  | "CLUSTER_PEER_IDENTITY_INVALID"
  | "CLUSTER_CHUNK_HASH_MISMATCH"
  | "CLUSTER_CHUNK_NOT_FOUND"
  | "CLUSTER_CHUNK_TOO_LARGE"
  | "CLUSTER_PEER_UNREACHABLE"
  | "CLUSTER_PEER_REQUEST_INVALID"
  // A replicated upload's command that names no payload.
  | "CLUSTER_PAYLOAD_MISSING"
  // A replicated upload wrapped under a KEK the cluster rotated away from (kek-cluster-rotation.ts).
  | "CLUSTER_KEK_STALE"
  // The ordered command log on etcd.
  | "CLUSTER_LOG_CONFLICT"
  | "CLUSTER_LOG_GAP"
  | "CLUSTER_LOG_TRIMMED"
  | "CLUSTER_LOG_ENTRY_INVALID"
  | "CLUSTER_LOG_NOT_EMPTY"
  | "CLUSTER_LOG_NOT_SEEDED"
  | "CLUSTER_APPLY_FAILED"
  | "CLUSTER_UNAVAILABLE"
  // Fewer than a majority of online nodes (payload copies or etcd): state changes are refused (503).
  | "CLUSTER_NO_QUORUM"
  | "CLUSTER_PENDING_QUEUE_UNUSABLE"
  // Cosigning.
  | "CLUSTER_COSIGN_REFUSED"
  // Integrity watch and repair (integrity/).
  | "CLUSTER_QUARANTINED"
  // An online node behind the log head it can read: not serving users until it is near it.
  | "CLUSTER_CATCHING_UP"
  | "CLUSTER_INTEGRITY_MISMATCH"
  | "CLUSTER_REPAIR_UNPROVEN"
  | "CLUSTER_REPAIR_FAILED"
  | "CLUSTER_INTEGRITY_CHECK_FAILED";

/** The cluster domain's error: stable code, log-safe context, optional cause. */
export class ClusterError extends CodedError<ClusterErrorCode> {
  override readonly name = "ClusterError";
}

/**
 * An error of the etcd client library rather than ours — its gRPC errors (`GRPC…Error`, `EtcdError`) or
 * the circuit breaker it opens in front of an etcd member that kept failing (cockatiel's
 * BrokenCircuitError: "Execution prevented because the circuit breaker is open", named plain `Error`) —
 * as the coded CLUSTER_UNAVAILABLE (etcd cannot be reached for now; the caller retries). Anything else:
 * undefined.
 */
export function etcdClientError(error: unknown): ClusterError | undefined {
  if (!(error instanceof Error) || error instanceof CodedError) return undefined;
  const breaker = "isBrokenCircuitError" in error;
  if (!breaker && !(error instanceof GRPCGenericError) && !(error instanceof EtcdError)) return undefined;
  return new ClusterError(
    "CLUSTER_UNAVAILABLE",
    "etcd に接続できません (しばらくして再試行します)",
    { etcd: breaker ? "circuit-breaker-open" : error.constructor.name },
    { cause: error },
  );
}
