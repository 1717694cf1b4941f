/**
 * The disaster drill's second step (`kenshin cluster reform`): after `kenshin cluster rebuild` put one
 * online node's databases back from the offline node's generation, a fresh, empty etcd cluster is
 * seeded from that node's copy (`cluster/log-genesis.ts`), so the node starts as after any restart and
 * the other nodes — started with empty data directories — catch up from it by the peer catch-up of a
 * trimmed log, proven against the published checkpoint.
 *
 * Before anything is written to etcd the copy is checked once more, with the node's own pinned keys:
 * - it is a cluster node's copy: service.db records a position {seq, hash, ledger size} and archives
 *   batch `seq`, whose SHA-256 is that hash;
 * - ledger.db holds exactly the entries of batches 1…seq (an entry past the position belongs to a batch
 *   this copy has no command of: refused, `ledger-ahead` — take a generation again);
 * - the last published checkpoint it kept verifies under the log key and the cosigner quorum
 *   (`cosigners.txt`), is not past the copy, and the copy's root at its size is its root.
 * The etcd transaction then succeeds only on an empty log (CLUSTER_LOG_NOT_EMPTY otherwise).
 */
import Database from "better-sqlite3";
import { readFileSync } from "node:fs";
import { Etcd3 } from "etcd3";
import { readNodeClusterConfig } from "../../cluster/cluster-agent.js";
import { batchHash } from "../../cluster/command-log/command-batch.js";
import { seedLog, type LogGenesis } from "../../cluster/log-genesis.js";
import { readCosignerPolicy } from "../../cluster/node-ledger-port.js";
import { Ledger } from "../../ledger/ledger.js";
import { toHex } from "../../ledger/verify/encoding.js";
import { openPublishedCheckpoint } from "../../ledger/verify/published-checkpoint.js";
import { parseVerifierKey } from "../../ledger/verify/verifier-key.js";
import { openSqliteLog } from "../../store/sqlite-log.js";
import { dataPaths } from "../data-dir.js";
import { rebuildRefused } from "./node-rebuild.js";

export interface ReformSummary {
  readonly node: string;
  readonly seq: number;
  readonly ledgerSize: number;
  readonly root: string;
  /** The size of the published checkpoint the new log carries. */
  readonly published: number;
}

interface CopyHead {
  readonly batch: string;
  readonly seq: number;
  readonly ledgerSize: number;
  readonly root: string;
  readonly published: string;
  readonly publishedSize: number;
}

/** Checks the rebuilt copy in `dataDir` and reads what the new log starts from (see the file comment). */
export function readCopyHead(dataDir: string): CopyHead {
  const paths = dataPaths(dataDir);
  const db = new Database(paths.serviceDb, { readonly: true, fileMustExist: true });
  let position: { seq: number; hash: string; ledger_size: number } | undefined;
  let batch: string | undefined;
  let published: string | undefined;
  try {
    const hasTable = (name: string): boolean =>
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
    if (hasTable("cluster_position") && hasTable("cluster_batches")) {
      position = db
        .prepare<[], { seq: number; hash: string; ledger_size: number }>(
          "SELECT seq, hash, ledger_size FROM cluster_position WHERE id = 1",
        )
        .get();
      if (position !== undefined)
        batch = db
          .prepare<[number], { batch: string }>("SELECT batch FROM cluster_batches WHERE seq = ?")
          .get(position.seq)?.batch;
    }
    if (hasTable("cluster_published"))
      published = db
        .prepare<[], { note: string }>("SELECT note FROM cluster_published WHERE id = 1")
        .get()?.note;
  } finally {
    db.close();
  }
  if (position === undefined || batch === undefined || batchHash(batch) !== position.hash) {
    throw rebuildRefused(
      "not-cluster-copy",
      "クラスタのノードの複製ではありません (コマンドログの位置がありません)",
    );
  }
  if (published === undefined) {
    throw rebuildRefused("published-invalid", "公開済みチェックポイントが複製にありません");
  }
  const logKey = parseVerifierKey(readFileSync(paths.ledgerVerifierKey, "utf8").trim());
  const policy = readCosignerPolicy(dataDir);
  const storage = openSqliteLog(paths.ledgerDb);
  try {
    const size = storage.size();
    if (size !== position.ledger_size) {
      throw rebuildRefused(
        "ledger-ahead",
        "台帳がコマンドログの位置と一致しません。世代を取り直してください",
        {
          size,
          position: position.ledger_size,
        },
      );
    }
    let cp: { size: number; root: Uint8Array };
    try {
      cp = openPublishedCheckpoint(published, logKey, policy).checkpoint;
    } catch (cause) {
      throw rebuildRefused("published-invalid", "公開済みチェックポイントを検証できません", {}, cause);
    }
    const ledger = new Ledger({ storage });
    if (cp.size > size || toHex(ledger.root(cp.size)) !== toHex(cp.root)) {
      throw rebuildRefused("checkpoint-mismatch", "公開済みチェックポイントと台帳が一致しません", {
        published: cp.size,
        size,
      });
    }
    return {
      batch,
      seq: position.seq,
      ledgerSize: size,
      root: toHex(ledger.root(size)),
      published,
      publishedSize: cp.size,
    };
  } finally {
    storage.close();
  }
}

/**
 * Seeds the cluster's empty etcd from the rebuilt node in `dataDir`.
 * @throws ServiceError REBUILD_INVALID; ClusterError CLUSTER_LOG_NOT_EMPTY, CLUSTER_OPTION_INVALID
 */
export async function reformCluster(
  dataDir: string,
  now: () => Date = () => new Date(),
): Promise<ReformSummary> {
  const config = readNodeClusterConfig(dataDir);
  if (config?.role !== "online") {
    throw rebuildRefused("not-cluster-copy", "オンラインノードのデータディレクトリを指定してください");
  }
  const head = readCopyHead(dataDir);
  const client = new Etcd3({ hosts: [...config.etcd], dialTimeout: 2000 });
  let genesis: LogGenesis;
  try {
    genesis = await seedLog(client, config.prefix, {
      batch: head.batch,
      ledgerSize: head.ledgerSize,
      root: head.root,
      published: head.published,
      node: config.self,
      seededAt: now().toISOString(),
    });
  } finally {
    client.close();
  }
  return {
    node: config.self,
    seq: genesis.seq,
    ledgerSize: genesis.ledgerSize,
    root: genesis.root,
    published: head.publishedSize,
  };
}
