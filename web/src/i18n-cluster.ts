/**
 * Labels of the cluster section of the office's monitoring page (issue 10): each node's role, state,
 * applied position, lag and last cosigned checkpoint. Kept apart from i18n.ts, which merges them.
 */
export const CLUSTER_DICT = {
  monCluster: ["クラスタのノード", "Cluster nodes"],
  monClusterPublished: [
    "公開チェックポイント (過半数が連署) のサイズ",
    "Published (quorum-cosigned) checkpoint size",
  ],
  monClusterHead: ["コマンドログの先頭", "Command log head"],
  monClusterSequencer: ["シーケンサー", "Sequencer"],
  monClusterNone: ["(選出されていません)", "(none elected)"],
  monClusterUnavailable: [
    "etcd に接続できないため、クラスタの状態を表示できません",
    "The cluster's state cannot be shown: etcd cannot be reached",
  ],
  colNode: ["ノード", "Node"],
  colRole: ["役割", "Role"],
  colState: ["状態", "State"],
  colApplied: ["適用済み", "Applied"],
  colLag: ["遅れ", "Lag"],
  colLastCosigned: ["最後に連署したサイズ", "Last cosigned size"],
  roleOnline: ["オンライン", "Online"],
  roleOffline: ["オフライン (バックアップ)", "Offline (backup)"],
  roleUnknown: ["不明", "Unknown"],
  stateServing: ["稼働中", "Serving"],
  stateReadOnly: ["読み取り専用 (過半数なし)", "Read-only (no majority)"],
  stateCatchingUp: ["追いつき中", "Catching up"],
  stateQuarantined: ["隔離中", "Quarantined"],
  stateDown: ["停止", "Down"],
} as const;
