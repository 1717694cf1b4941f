/**
 * A command log that starts from an existing copy instead of from nothing: the disaster drill's re-formed
 * cluster (`kenshin cluster reform`, service/cluster/cluster-reform.ts). A fresh etcd holds no batch; the rebuilt
 * node's service.db says it applied batches 1…n (its position {seq n, hash, ledger size}) and archives
 * their canonical text. Seeding writes, in one etcd transaction that succeeds only on an empty log:
 *
 *   log/<n>     the node's archived batch n, byte for byte (its SHA-256 is the node's position hash)
 *   head        {seq n, hash}: the sequencer continues with batch n+1 naming batch n as its predecessor
 *   published   the last published checkpoint (log signature + quorum cosignatures) the copy reproduces
 *   genesis     {seq, hash, ledgerSize, root, published, node}: where and from what this log started
 *
 * Nothing else changes for the nodes: the rebuilt node follows from n+1 as after any restart; a node with
 * an empty data directory finds batch n as the first etcd holds (CLUSTER_LOG_TRIMMED, as after a trim)
 * and catches up batches 1…n−1 from a peer (`log-catch-up.ts`: the peer's published checkpoint verified
 * under the pinned key and quorum, the chain of batch hashes anchored at batch n in etcd), then applies
 * batch n from etcd. Pure checks here; the I/O is the one transaction and one read.
 */
import type { Etcd3 } from "etcd3";
import { z } from "zod";
import { batchHash, logKeys, type LogKeys } from "./command-log/command-batch.js";
import { ClusterError } from "./errors.js";

/** The genesis record of a re-formed log (etcd `<prefix>genesis`). */
export interface LogGenesis {
  readonly seq: number;
  /** SHA-256 (hex) of batch `seq`'s canonical text: the log's head when it was seeded. */
  readonly hash: string;
  /** The ledger size after batch `seq`. */
  readonly ledgerSize: number;
  /** The seeding node's ledger root at `ledgerSize` (hex). */
  readonly root: string;
  /** The last published checkpoint the seeding copy reproduces (signed note). */
  readonly published: string;
  /** The node whose copy seeded the log. */
  readonly node: string;
  readonly seededAt: string;
}

const genesisSchema = z
  .object({
    seq: z.number().int().positive(),
    hash: z.string().regex(/^[0-9a-f]{64}$/),
    ledgerSize: z.number().int().nonnegative(),
    root: z.string().regex(/^[0-9a-f]{64}$/),
    published: z.string().min(1),
    node: z.string().min(1),
    seededAt: z.string().min(1),
  })
  .strict();

export function genesisKey(prefix: string): string {
  return `${prefix}genesis`;
}

/** The seq a batch's canonical text names (the caller's archive is trusted for the rest). */
function seqOf(batch: string): number {
  let seq: unknown;
  try {
    seq = (JSON.parse(batch) as { seq?: unknown }).seq;
  } catch (cause) {
    throw new ClusterError(
      "CLUSTER_LOG_ENTRY_INVALID",
      "種となるバッチが JSON ではありません",
      {},
      { cause },
    );
  }
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1) {
    throw new ClusterError("CLUSTER_LOG_ENTRY_INVALID", "種となるバッチの番号が正しくありません", {});
  }
  return seq;
}

export interface SeedInput {
  /** The canonical text of the seeding node's last applied batch. */
  readonly batch: string;
  readonly ledgerSize: number;
  readonly root: string;
  readonly published: string;
  readonly node: string;
  readonly seededAt: string;
}

/**
 * Seeds an empty command log with the last batch of an existing copy (see the file comment).
 * @throws ClusterError CLUSTER_LOG_NOT_EMPTY when etcd already holds a log, a head or a genesis record
 */
export async function seedLog(client: Etcd3, prefix: string, input: SeedInput): Promise<LogGenesis> {
  const keys: LogKeys = logKeys(prefix);
  const seq = seqOf(input.batch);
  const genesis: LogGenesis = genesisSchema.parse({
    seq,
    hash: batchHash(input.batch),
    ledgerSize: input.ledgerSize,
    root: input.root,
    published: input.published,
    node: input.node,
    seededAt: input.seededAt,
  });
  const held = await client.getAll().prefix(keys.log).limit(1).keys();
  if (held.length > 0) {
    throw new ClusterError("CLUSTER_LOG_NOT_EMPTY", "etcd には既にコマンドログがあります", {
      first: held[0],
    });
  }
  // The log range was read empty just now; head and genesis are compared in the transaction itself,
  // and a batch is never written without moving the head, so a racing seed or sequencer fails here.
  const result = await client
    .if(keys.head, "Version", "==", 0)
    .and(genesisKey(prefix), "Version", "==", 0)
    .then(
      client.put(keys.logKey(seq)).value(input.batch),
      client.put(keys.head).value(JSON.stringify({ seq, hash: genesis.hash })),
      client.put(`${prefix}published`).value(input.published),
      client.put(genesisKey(prefix)).value(JSON.stringify(genesis)),
    )
    .commit();
  if (!result.succeeded) {
    throw new ClusterError("CLUSTER_LOG_NOT_EMPTY", "etcd には既にコマンドログがあります", {});
  }
  return genesis;
}

/** The genesis record of this cluster's log, if it was re-formed from a copy. */
export async function readGenesis(client: Etcd3, prefix: string): Promise<LogGenesis | undefined> {
  const text = await client.get(genesisKey(prefix)).string();
  if (text === null) return undefined;
  const parsed = genesisSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new ClusterError("CLUSTER_LOG_ENTRY_INVALID", "コマンドログの genesis 記録が正しくありません", {});
  }
  return parsed.data;
}

/**
 * The start-up check of a node's replica (ClusterLedger.start): a copy that applied batches cannot start
 * on an etcd whose log has no head — a fresh etcd that was not seeded (`kenshin cluster reform`) — or
 * whose head is behind the copy (another, older log): its follower would wait forever and its
 * sequencer never find the state at the head. Undefined when the log and the copy fit (or etcd did not
 * answer: the follower's own retries handle an unreachable etcd).
 */
export async function logStartProblem(
  client: Etcd3,
  prefix: string,
  position: { readonly seq: number },
  o: { readonly serializable?: boolean } = {},
): Promise<ClusterError | undefined> {
  if (position.seq === 0) return undefined;
  let text: string | null;
  try {
    text = await client
      .get(logKeys(prefix).head)
      .serializable(o.serializable === true)
      .options({ deadline: Date.now() + 5000 })
      .string();
  } catch {
    return undefined;
  }
  const seq = text === null ? 0 : Number((JSON.parse(text) as { seq?: unknown }).seq);
  if (Number.isSafeInteger(seq) && seq >= position.seq) return undefined;
  return new ClusterError(
    "CLUSTER_LOG_NOT_SEEDED",
    "etcd のコマンドログがこのノードの台帳より古いか空です (災害復旧では kenshin cluster reform で作り直します)",
    { position: position.seq, head: seq },
  );
}
