/**
 * One row per node for operators and the office's monitoring: its role, its state (from its presence
 * lease; "down" when the lease lapsed), how far it has applied the command log and its lag behind the
 * head, and the size of the last checkpoint it cosigned (cosign-exchange.ts keys); and, from the facts
 * each node publishes about its own copy (integrity/health-facts.ts), its integrity state (healthy /
 * quarantined / repairing / catching-up), its last full check, the repairs it made and its newest backup
 * generation. Read from etcd only, bounded; it says nothing about users or payloads (positions, codes,
 * sizes, hashes, transfer IDs).
 */
import type { Etcd3 } from "etcd3";
import { logKeys } from "./command-log/command-batch.js";
import { readClusterStatus, type ClusterStatus } from "./cluster-status.js";
import type { ClusterTopology, NodeRole } from "./cluster-topology.js";
import { readHealthFacts, type BackupFact } from "./integrity/health-facts.js";
import type { NodeHealthSnapshot } from "./integrity/node-health.js";
import { readPresence, type NodeState } from "./node-presence.js";

export interface NodeOverview {
  readonly name: string;
  readonly role: NodeRole | "unknown";
  readonly state: NodeState | "down";
  /** ISO time the state was entered (absent when down). */
  readonly since?: string;
  readonly applied: number;
  readonly lag: number;
  /** Size of the largest checkpoint this node cosigned (0: none yet). */
  readonly lastCosignedSize: number;
  /** What the node last said about its own copy (absent until it published a fact). */
  readonly integrity?: Pick<
    NodeHealthSnapshot,
    "state" | "since" | "findings" | "lastFullCheck" | "repairs" | "damagedTransfers"
  >;
  /** Its newest backup generation (the offline node's; online nodes record theirs as entries). */
  readonly backup?: BackupFact;
}

export interface ClusterOverview extends ClusterStatus {
  readonly prefix: string;
  readonly overview: readonly NodeOverview[];
  /** Size of the latest published (quorum-cosigned) checkpoint, 0 when none. */
  readonly publishedSize: number;
}

/** How many of the most recent checkpoint keys are scanned for cosignatures. */
const COSIG_SCAN = 1000;
const COSIG_KEY = /checkpoints\/(\d{16})\/cosig\/([a-z0-9-]{1,32})$/;

/** The largest cosigned checkpoint size of each node, from the most recent checkpoint keys. */
export async function lastCosignedSizes(
  client: Etcd3,
  prefix: string,
  o: { timeoutMs?: number } = {},
): Promise<Record<string, number>> {
  const keys = await client
    .getAll()
    .prefix(`${prefix}checkpoints/`)
    .sort("Key", "Descend")
    .limit(COSIG_SCAN)
    .options({ deadline: Date.now() + (o.timeoutMs ?? 2000) })
    .keys();
  const out: Record<string, number> = {};
  for (const key of keys) {
    const m = COSIG_KEY.exec(key);
    if (m?.[1] === undefined || m[2] === undefined) continue;
    const size = Number(m[1]);
    if (size > (out[m[2]] ?? 0)) out[m[2]] = size;
  }
  return out;
}

export async function readClusterOverview(
  client: Etcd3,
  prefix: string,
  o: { timeoutMs?: number; topology?: ClusterTopology } = {},
): Promise<ClusterOverview> {
  const timeout = { timeoutMs: o.timeoutMs ?? 2000 };
  const status = await readClusterStatus(client, logKeys(prefix), timeout);
  const [presence, cosigned, published, facts] = await Promise.all([
    readPresence(client, prefix, timeout),
    lastCosignedSizes(client, prefix, timeout),
    client
      .get(`${prefix}published`)
      .options({ deadline: Date.now() + timeout.timeoutMs })
      .string(),
    readHealthFacts(client, prefix, timeout),
  ]);
  const names = new Set<string>([
    ...(o.topology?.nodes.map((n) => n.name) ?? []),
    ...status.nodes.map((n) => n.name),
    ...Object.keys(presence),
  ]);
  const overview = [...names].sort().map((name): NodeOverview => {
    const p = presence[name];
    const progress = status.nodes.find((n) => n.name === name);
    const role = o.topology?.nodes.find((n) => n.name === name)?.role ?? p?.role ?? "unknown";
    return {
      name,
      role,
      state: p?.state ?? "down",
      ...(p === undefined ? {} : { since: p.since }),
      applied: progress?.applied ?? 0,
      lag: progress?.lag ?? status.head,
      lastCosignedSize: cosigned[name] ?? 0,
      ...integrityOf(facts.integrity[name]),
      ...(facts.backups[name] === undefined ? {} : { backup: facts.backups[name] }),
    };
  });
  return { ...status, prefix, overview, publishedSize: publishedSizeOf(published) };
}

/** The size line of a published note (second line of a C2SP checkpoint), 0 when absent or unreadable. */
function publishedSizeOf(note: string | null): number {
  if (note === null) return 0;
  const size = Number(note.split("\n")[1]);
  return Number.isSafeInteger(size) && size >= 0 ? size : 0;
}

function integrityOf(h: NodeHealthSnapshot | undefined): Pick<NodeOverview, "integrity"> {
  if (h === undefined || typeof h.state !== "string") return {};
  return {
    integrity: {
      state: h.state,
      since: h.since,
      findings: Array.isArray(h.findings) ? h.findings.slice(0, 20) : [],
      lastFullCheck: h.lastFullCheck,
      repairs: Array.isArray(h.repairs) ? h.repairs.slice(-20) : [],
      damagedTransfers: Array.isArray(h.damagedTransfers) ? h.damagedTransfers.slice(0, 100) : [],
    },
  };
}
