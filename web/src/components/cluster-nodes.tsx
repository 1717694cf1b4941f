/**
 * The cluster section of the office's monitoring page: per node its role, state (from its presence in
 * etcd; "down" once its lease lapsed), applied position and lag behind the command log's head, and the
 * size of the last checkpoint it cosigned; plus the published checkpoint's size. Node names and numbers
 * only: nothing about users or results.
 */
import { useI18n, type MessageKey } from "../i18n.js";

export interface ClusterMonitoring {
  readonly available: boolean;
  readonly head?: number;
  readonly sequencer?: string | null;
  readonly publishedSize?: number;
  readonly nodes?: readonly {
    readonly name: string;
    readonly role: "online" | "offline" | "unknown";
    readonly state: "serving" | "read-only" | "catching-up" | "quarantined" | "down";
    readonly applied: number;
    readonly lag: number;
    readonly lastCosignedSize: number;
  }[];
}

const ROLE: Record<string, MessageKey> = {
  online: "roleOnline",
  offline: "roleOffline",
  unknown: "roleUnknown",
};
const STATE: Record<string, MessageKey> = {
  serving: "stateServing",
  "read-only": "stateReadOnly",
  "catching-up": "stateCatchingUp",
  quarantined: "stateQuarantined",
  down: "stateDown",
};

export function ClusterNodes({ cluster }: { readonly cluster: ClusterMonitoring }) {
  const { t } = useI18n();
  if (!cluster.available || cluster.nodes === undefined) {
    return (
      <>
        <h2>{t("monCluster")}</h2>
        <p role="status">{t("monClusterUnavailable")}</p>
      </>
    );
  }
  return (
    <>
      <h2>{t("monCluster")}</h2>
      <dl class="facts">
        <dt>{t("monClusterPublished")}</dt>
        <dd>{cluster.publishedSize ?? 0}</dd>
        <dt>{t("monClusterHead")}</dt>
        <dd>{cluster.head ?? 0}</dd>
        <dt>{t("monClusterSequencer")}</dt>
        <dd>{cluster.sequencer ?? t("monClusterNone")}</dd>
      </dl>
      <div class="table-wrap">
        <table data-testid="cluster-nodes">
          <caption>{t("monCluster")}</caption>
          <thead>
            <tr>
              <th scope="col">{t("colNode")}</th>
              <th scope="col">{t("colRole")}</th>
              <th scope="col">{t("colState")}</th>
              <th scope="col">{t("colApplied")}</th>
              <th scope="col">{t("colLag")}</th>
              <th scope="col">{t("colLastCosigned")}</th>
            </tr>
          </thead>
          <tbody>
            {cluster.nodes.map((n) => (
              <tr key={n.name} data-state={n.state}>
                <th scope="row">
                  <code>{n.name}</code>
                </th>
                <td>{t(ROLE[n.role] ?? "roleUnknown")}</td>
                <td>{t(STATE[n.state] ?? "stateDown")}</td>
                <td class="num">{n.applied}</td>
                <td class="num">{n.lag}</td>
                <td class="num">{n.lastCosignedSize}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
