/**
 * Monitoring facts a node publishes in etcd about its own copy, for the office's monitoring (every node's
 * state, last full check, repairs) and `kenshin cluster status`:
 *
 *   <prefix>integrity/<node>   the node's health snapshot (node-health.ts): state, since, findings
 *                              (positions and codes), last full check, recent repairs, damaged transfers
 *   <prefix>backups/<node>     the node's newest backup generation (name, time, size, SHA-256, ledger
 *                              size) and how many it keeps — how the offline node records a generation,
 *                              since it cannot append a `backup.create` entry
 *
 * These are facts, not state: nothing is decided from them, and they carry no result data (IDs, codes,
 * sizes, hashes). They are kept when the node stops (the last check and generation stay true); whether
 * the node is up comes from its presence lease (node-presence.ts).
 */
import type { Etcd3 } from "etcd3";
import type { NodeHealthSnapshot } from "./node-health.js";

export interface BackupFact {
  readonly node: string;
  /** File name of the newest generation. */
  readonly latest: string;
  readonly createdAt: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly ledgerSize: number;
  /** Databases it holds. */
  readonly files: readonly string[];
  /** Generations kept after pruning. */
  readonly generations: number;
}

export const integrityFactKey = (prefix: string, node: string): string => `${prefix}integrity/${node}`;
export const backupFactKey = (prefix: string, node: string): string => `${prefix}backups/${node}`;

export async function publishIntegrityFact(
  client: Etcd3,
  prefix: string,
  node: string,
  snapshot: NodeHealthSnapshot,
): Promise<void> {
  await client
    .put(integrityFactKey(prefix, node))
    .value(JSON.stringify(snapshot))
    .options({ deadline: Date.now() + 2000 });
}

export async function publishBackupFact(client: Etcd3, prefix: string, fact: BackupFact): Promise<void> {
  await client
    .put(backupFactKey(prefix, fact.node))
    .value(JSON.stringify(fact))
    .options({ deadline: Date.now() + 2000 });
}

/** Every node's published facts (bounded reads; unparsable values are skipped). */
export async function readHealthFacts(
  client: Etcd3,
  prefix: string,
  o: { timeoutMs?: number } = {},
): Promise<{ integrity: Record<string, NodeHealthSnapshot>; backups: Record<string, BackupFact> }> {
  const deadline = Date.now() + (o.timeoutMs ?? 2000);
  const [integrity, backups] = await Promise.all(
    [`${prefix}integrity/`, `${prefix}backups/`].map((p) =>
      client.getAll().prefix(p).options({ deadline }).strings(),
    ),
  );
  const parse = <T>(values: Record<string, string> | undefined, p: string): Record<string, T> => {
    const out: Record<string, T> = {};
    for (const [key, value] of Object.entries(values ?? {})) {
      try {
        out[key.slice(p.length)] = JSON.parse(value) as T;
      } catch {
        // a value that is not ours: skipped
      }
    }
    return out;
  };
  return {
    integrity: parse<NodeHealthSnapshot>(integrity, `${prefix}integrity/`),
    backups: parse<BackupFact>(backups, `${prefix}backups/`),
  };
}
