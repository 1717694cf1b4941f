/**
 * One node's etcd 3.4 member configuration (`etcd --config-file`, YAML; option names as in
 * https://etcd.io/docs/v3.4/op-guide/configuration/). Online nodes are the voting members and bootstrap
 * the cluster together (`initial-cluster-state: new`); the offline node is a learner
 * (https://etcd.io/docs/v3.4/learning/design-learner/): it is first added through the cluster API as a
 * learner (`kenshin cluster join`), then started with `existing` and an initial cluster naming the
 * voters and itself. A node joining later is the same: added first, then started with `existing`.
 */
import { ClusterError } from "./errors.js";
import { etcdClientUrl, etcdPeerUrl, onlineNodes, type ClusterTopology } from "./cluster-topology.js";

// Values go into YAML unquoted: refuse anything that could end a token or a line.
const SAFE = /^[A-Za-z0-9_./@:,=+-]{1,4096}$/;

function safe(value: string, field: string): string {
  if (!SAFE.test(value)) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", `etcd の設定に使えない文字があります (${field})`, {
      field,
    });
  }
  return value;
}

export function etcdMemberConfig(
  topology: ClusterTopology,
  name: string,
  o: { dataDir: string; initialState: "new" | "existing" },
): string {
  const me = topology.nodes.find((n) => n.name === name);
  if (me === undefined) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "そのノードはクラスタ構成にありません", { node: name });
  }
  const voters = onlineNodes(topology);
  const members = me.role === "online" ? voters : [...voters, me];
  const state = me.role === "online" ? o.initialState : "existing";
  const lines = [
    `name: ${safe(me.name, "name")}`,
    `data-dir: ${safe(o.dataDir, "dataDir")}`,
    `listen-client-urls: ${safe(etcdClientUrl(me), "clientUrl")}`,
    `advertise-client-urls: ${safe(etcdClientUrl(me), "clientUrl")}`,
    `listen-peer-urls: ${safe(etcdPeerUrl(me), "peerUrl")}`,
    `initial-advertise-peer-urls: ${safe(etcdPeerUrl(me), "peerUrl")}`,
    `initial-cluster: ${safe(members.map((n) => `${n.name}=${etcdPeerUrl(n)}`).join(","), "initialCluster")}`,
    `initial-cluster-token: ${safe(topology.etcdToken, "etcdToken")}`,
    `initial-cluster-state: ${state}`,
    "logger: zap",
    "log-level: warn",
  ];
  return `${lines.join("\n")}\n`;
}
