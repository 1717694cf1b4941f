/**
 * The one answer a user gets for a state change while the cluster has no majority (read-only mode):
 * `CLUSTER_NO_QUORUM`, HTTP 503 (server/http-errors.ts), in Japanese, retry later. Shared by payload
 * replication (fewer than a majority of online nodes hold the upload) and the quorum guard of the write
 * port (etcd cannot order the command).
 */
import { ClusterError } from "./errors.js";

export const NO_QUORUM_MESSAGE =
  "クラスタの過半数のノードに接続できないため、現在は閲覧だけができます。登録・変更はしばらくしてから再度お試しください";

export function noQuorumError(context: Record<string, unknown> = {}): ClusterError {
  return new ClusterError("CLUSTER_NO_QUORUM", NO_QUORUM_MESSAGE, context);
}
