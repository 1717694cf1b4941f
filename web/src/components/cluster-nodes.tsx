/**
 * The cluster section of the office's monitoring page: per node its role, state (from its presence in
 * etcd; "down" once its lease lapsed), applied position and lag behind the command log's head, and the
 * size of the last checkpoint it cosigned; plus the published checkpoint's size. Issue 11: each node's
 * integrity state (healthy / quarantined / repairing / catching up), its last full check, and the repairs
 * it made (what, from which node, proven against which checkpoint, the repair entry). Node names,
 * positions, codes and sizes only: nothing about users or results.
 */
import { formatDateTime } from "../format.js";
import { useI18n, type MessageKey } from "../i18n.js";

export interface NodeIntegrity {
  readonly state: "healthy" | "quarantined" | "repairing" | "catching-up";
  readonly since: string;
  readonly findings: readonly string[];
  readonly lastFullCheck?: {
    readonly at: string;
    readonly ok: boolean;
    readonly durationMs: number;
    readonly findings: number;
  };
  readonly repairs: readonly {
    readonly at: string;
    readonly what: readonly string[];
    readonly fromNode: string;
    readonly checkpointSize: number;
    readonly entryIndex?: number;
  }[];
  readonly damagedTransfers: readonly string[];
}

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
    readonly integrity?: NodeIntegrity;
    readonly backup?: { readonly createdAt: string; readonly generations: number };
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
const INTEGRITY: Record<string, MessageKey> = {
  healthy: "integrityHealthy",
  quarantined: "integrityQuarantined",
  repairing: "integrityRepairing",
  "catching-up": "integrityCatchingUp",
};

export function ClusterNodes({ cluster }: { readonly cluster: ClusterMonitoring }) {
  const { t, lang, wareki } = useI18n();
  if (!cluster.available || cluster.nodes === undefined) {
    return (
      <>
        <h2>{t("monCluster")}</h2>
        <p role="status">{t("monClusterUnavailable")}</p>
      </>
    );
  }
  const repairs = cluster.nodes
    .flatMap((n) => (n.integrity?.repairs ?? []).map((r) => ({ ...r, node: n.name })))
    .sort((a, b) => (a.at < b.at ? 1 : -1));
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
              <th scope="col">{t("colIntegrity")}</th>
              <th scope="col">{t("colLastFullCheck")}</th>
              <th scope="col">{t("colLastBackup")}</th>
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
                <td data-integrity={n.integrity?.state ?? "unknown"}>
                  {n.integrity === undefined
                    ? t("integrityUnknown")
                    : t(INTEGRITY[n.integrity.state] ?? "integrityUnknown")}
                  {n.integrity !== undefined && n.integrity.damagedTransfers.length > 0
                    ? ` ${t("integrityDamaged")} ${n.integrity.damagedTransfers.length}`
                    : ""}
                </td>
                <td>
                  {n.integrity?.lastFullCheck === undefined
                    ? "-"
                    : `${formatDateTime(n.integrity.lastFullCheck.at, lang, wareki)} ${
                        n.integrity.lastFullCheck.ok ? t("checkOk") : t("checkFailed")
                      }`}
                </td>
                <td>
                  {n.backup === undefined
                    ? "-"
                    : `${formatDateTime(n.backup.createdAt, lang, wareki)} (${n.backup.generations})`}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3>{t("monRepairs")}</h3>
      {repairs.length === 0 ? (
        <p>{t("monRepairsNone")}</p>
      ) : (
        <div class="table-wrap">
          <table data-testid="cluster-repairs">
            <caption>{t("monRepairs")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("colRepairAt")}</th>
                <th scope="col">{t("colNode")}</th>
                <th scope="col">{t("colRepairWhat")}</th>
                <th scope="col">{t("colRepairFrom")}</th>
                <th scope="col">{t("colRepairCheckpoint")}</th>
                <th scope="col">{t("colRepairEntry")}</th>
              </tr>
            </thead>
            <tbody>
              {repairs.map((r) => (
                <tr key={`${r.node}-${r.at}`}>
                  <td>{formatDateTime(r.at, lang, wareki)}</td>
                  <th scope="row">
                    <code>{r.node}</code>
                  </th>
                  <td>{r.what.join(", ")}</td>
                  <td>
                    <code>{r.fromNode}</code>
                  </td>
                  <td class="num">{r.checkpointSize}</td>
                  <td class="num">{r.entryIndex ?? "-"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
