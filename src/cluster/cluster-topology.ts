/**
 * The cluster's shape, as `kenshin cluster init|join` writes it (`cluster.json` in the operator's cluster
 * directory) and as every node reads its own part (`cluster-node.json` in its data directory):
 * which nodes exist, which are online (user-facing listener, etcd voting member, counted in quorums)
 * and which is the offline backup (no user listener, etcd learner, never counted, no KEK), and the
 * ports of each node:
 *
 *   https       the user-facing TLS 1.3 + client-certificate listener (online nodes only; haproxy's backends)
 *   lastResort  the same server's door that stays open while the node does not serve (online nodes only,
 *               optional: clusters made before it have none; haproxy's `backup` servers, used only when
 *               no node's https port is up, so users get the node's coded 503 and not a closed connection)
 *   peer        the node-to-node mTLS chunk endpoint (peer/peer-server.ts)
 *   etcdClient  this node's etcd member, client URL
 *   etcdPeer    this node's etcd member, Raft peer URL
 *
 * plus the one frontend address users are given (haproxy, TCP pass-through). Validated with zod once at
 * read; node names follow the node-certificate rule (node-identity.ts).
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { ClusterError } from "./errors.js";

const NODE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
const HOST = /^[A-Za-z0-9.:-]{1,253}$/;
const port = z.number().int().min(1).max(65535);

export const nodeRoleSchema = z.enum(["online", "offline"]);
export type NodeRole = z.infer<typeof nodeRoleSchema>;

const nodeSchema = z
  .object({
    name: z.string().regex(NODE_NAME),
    role: nodeRoleSchema,
    host: z.string().regex(HOST),
    ports: z
      .object({
        https: port.optional(),
        lastResort: port.optional(),
        peer: port,
        etcdClient: port,
        etcdPeer: port,
      })
      .strict(),
  })
  .strict();

export const topologySchema = z
  .object({
    version: z.literal(1),
    /** etcd key prefix of this cluster's records (command log, checkpoints, presence). */
    prefix: z.string().regex(/^[A-Za-z0-9/_-]{1,128}\/$/),
    /** etcd --initial-cluster-token: keeps two clusters on one network from joining each other. */
    etcdToken: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    frontend: z.object({ host: z.string().regex(HOST), port }).strict(),
    nodes: z.array(nodeSchema).min(1).max(16),
  })
  .strict()
  .superRefine((t, ctx) => {
    const names = new Set<string>();
    const used = new Set<string>([`${t.frontend.host}:${t.frontend.port}`]);
    for (const n of t.nodes) {
      if (names.has(n.name)) ctx.addIssue({ code: "custom", message: `duplicate node ${n.name}` });
      names.add(n.name);
      if (n.role === "online" && n.ports.https === undefined) {
        ctx.addIssue({ code: "custom", message: `online node ${n.name} needs an https port` });
      }
      if (n.role === "offline" && (n.ports.https !== undefined || n.ports.lastResort !== undefined)) {
        ctx.addIssue({ code: "custom", message: `offline node ${n.name} has no user-facing listener` });
      }
      for (const p of Object.values(n.ports)) {
        const key = `${n.host}:${p}`;
        if (used.has(key)) ctx.addIssue({ code: "custom", message: `port ${key} used twice` });
        used.add(key);
      }
    }
    if (!t.nodes.some((n) => n.role === "online")) {
      ctx.addIssue({ code: "custom", message: "at least one online node" });
    }
  });

export type ClusterTopology = z.infer<typeof topologySchema>;
export type TopologyNode = ClusterTopology["nodes"][number];

/**
 * @throws ClusterError CLUSTER_OPTION_INVALID naming the first wrong field
 */
export function parseTopology(value: unknown): ClusterTopology {
  const parsed = topologySchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ClusterError(
      "CLUSTER_OPTION_INVALID",
      `クラスタ構成 (cluster.json) が正しくありません: ${issue?.path.join(".") ?? ""} ${issue?.message ?? ""}`,
      { path: issue?.path.join(".") ?? "" },
    );
  }
  return parsed.data;
}

/** @throws ClusterError CLUSTER_OPTION_INVALID when the file is missing, not JSON, or not a topology */
export function readTopology(file: string): ClusterTopology {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", `クラスタ構成を読めません: ${file}`, {}, { cause });
  }
  return parseTopology(value);
}

export const onlineNodes = (t: ClusterTopology): TopologyNode[] => t.nodes.filter((n) => n.role === "online");
export const offlineNodes = (t: ClusterTopology): TopologyNode[] =>
  t.nodes.filter((n) => n.role === "offline");

/**
 * How a node takes part in etcd: online nodes are voting members; the first offline node is a learner
 * (etcd 3.4 allows one learner per cluster); further offline nodes are plain watchers (no member, they
 * read through the voters' client URLs).
 */
export type EtcdRole = "voter" | "learner" | "watcher";

export function etcdRole(t: ClusterTopology, name: string): EtcdRole {
  const node = t.nodes.find((n) => n.name === name);
  if (node === undefined) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "そのノードはクラスタ構成にありません", { node: name });
  }
  if (node.role === "online") return "voter";
  return offlineNodes(t)[0]?.name === name ? "learner" : "watcher";
}

export function peerUrl(n: TopologyNode): string {
  return `https://${n.host}:${n.ports.peer}`;
}
export function etcdClientUrl(n: TopologyNode): string {
  return `http://${n.host}:${n.ports.etcdClient}`;
}
export function etcdPeerUrl(n: TopologyNode): string {
  return `http://${n.host}:${n.ports.etcdPeer}`;
}

/** What one node reads at start (`cluster-node.json`): itself, its peers and where etcd is. */
export interface NodeClusterConfig {
  readonly version: 1;
  readonly self: string;
  readonly role: NodeRole;
  readonly prefix: string;
  /** Client URLs of the voting etcd members (the learner is not a client endpoint). */
  readonly etcd: readonly string[];
  /** The peer endpoint this node listens on. */
  readonly listenPeer: { readonly host: string; readonly port: number };
  /** The other online nodes (count towards payload and cosigning quorums). */
  readonly online: readonly { readonly name: string; readonly url: string }[];
  /** The offline backup nodes (pushed to, never counted). */
  readonly offline: readonly { readonly name: string; readonly url: string }[];
  /** Online nodes that must hold a payload / cosign a checkpoint (a majority of the online nodes). */
  readonly quorum: number;
}

export function nodeClusterConfig(t: ClusterTopology, self: string): NodeClusterConfig {
  const me = t.nodes.find((n) => n.name === self);
  if (me === undefined) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "そのノードはクラスタ構成にありません", { node: self });
  }
  const others = t.nodes.filter((n) => n.name !== self);
  return {
    version: 1,
    self,
    role: me.role,
    prefix: t.prefix,
    etcd: onlineNodes(t).map(etcdClientUrl),
    listenPeer: { host: me.host, port: me.ports.peer },
    online: others.filter((n) => n.role === "online").map((n) => ({ name: n.name, url: peerUrl(n) })),
    offline: others.filter((n) => n.role === "offline").map((n) => ({ name: n.name, url: peerUrl(n) })),
    quorum: Math.floor(onlineNodes(t).length / 2) + 1,
  };
}
