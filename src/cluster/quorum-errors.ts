/**
 * The one answer a user gets for a state change while the cluster has no majority (read-only mode):
 * `CLUSTER_NO_QUORUM`, HTTP 503 (server/http-errors.ts), in Japanese, retry later. Shared by payload
 * replication (fewer than a majority of online nodes hold the upload) and the quorum guard of the write
 * port (etcd cannot order the command).
 */
import { ClusterError } from "./errors.js";

export const NO_QUORUM_MESSAGE =
  "クラスタの過半数のノードに接続できないため、現在は閲覧だけができます。登録・変更はしばらくしてから再度お試しください";

/**
 * The same refusal for a read that needs a signed checkpoint not published yet: its entries are on this
 * node, but until a majority cosigns a checkpoint covering them they cannot be proven to the reader.
 */
export const UNPROVEN_MESSAGE =
  "クラスタの過半数のノードに接続できないため、この記録の最新の部分をまだ証明できません。しばらくしてから再度お試しください";

export function noQuorumError(
  context: Record<string, unknown> = {},
  message: string = NO_QUORUM_MESSAGE,
): ClusterError {
  return new ClusterError("CLUSTER_NO_QUORUM", message, context);
}
