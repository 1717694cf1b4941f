/**
 * Opening a cluster node's ledger write port from its data directory (what `kenshin cluster init|join`
 * wrote, `cluster-init.ts`) and its running agent (`cluster-agent.ts`): its own ledger.db (created empty
 * on first start: every node builds it from the command log), the shared log key on an online node (the
 * offline node has only the verifier key), its own witness key, the pinned cosigners and quorum
 * (`cosigners.txt`), the agent's etcd client, and catch-up from its peers over the agent's mutual-TLS
 * identity. `service/node.ts` calls this instead of opening the embedded port when the directory holds a
 * `cluster-node.json`; the caller mounts `port.peerRoute()` on the node's peer endpoint.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Etcd3 } from "etcd3";
import { readKeyFile } from "../crypto/key-file.js";
import { createCosigner, createNoteSigner } from "../crypto/note-signer.js";
import type { CosignerPolicy } from "../ledger/verify/published-checkpoint.js";
import { parseVerifierKey } from "../ledger/verify/verifier-key.js";
import type { CheckpointPublished } from "../ledger/write-port.js";
import { dataPaths } from "../service/data-dir.js";
import type { ServiceDb } from "../store/service-db.js";
import { createSqliteLog, openSqliteLog } from "../store/sqlite-log.js";
import { nodeFiles } from "./cluster-init.js";
import type { NodeClusterConfig } from "./cluster-topology.js";
import { ClusterLedger } from "./cluster-ledger.js";
import { ClusterError } from "./errors.js";
import type { PeerTls } from "./peer/peer-server.js";
import type { GuardedCosign } from "./checkpoint-publication.js";
import type { CandidacyGate } from "./command-log/sequencer-election.js";
import type { ApplyCommand } from "./state-command.js";

/**
 * Reads `cosigners.txt` (`quorum N`, then one witness vkey per line, `#` comments): in the node's
 * directory, or in the cluster directory it was made in (`<cluster>/nodes/<name>/`).
 * @throws ClusterError CLUSTER_OPTION_INVALID
 */
export function readCosignerPolicy(nodeDir: string): CosignerPolicy {
  const candidates = [join(nodeDir, "cosigners.txt"), join(dirname(dirname(nodeDir)), "cosigners.txt")];
  const file = candidates.find((f) => existsSync(f));
  if (file === undefined) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "連署者の一覧 (cosigners.txt) がありません", {});
  }
  let quorum = 0;
  const keys: string[] = [];
  for (const raw of readFileSync(file, "utf8").split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const q = /^quorum ([0-9]{1,2})$/.exec(line);
    if (q !== null) quorum = Number(q[1]);
    else keys.push(line);
  }
  try {
    return { cosigners: keys.map((k) => parseVerifierKey(k)), quorum };
  } catch (cause) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "cosigners.txt の鍵が正しくありません", {}, { cause });
  }
}

export interface NodeLedgerPortOptions {
  readonly dir: string;
  readonly config: NodeClusterConfig;
  readonly etcd: Etcd3;
  readonly db: ServiceDb;
  readonly applyCommand: ApplyCommand;
  /** The node's peer identity (the agent's), for catch-up from peers. */
  readonly tls?: PeerTls;
  /** How this node cosigns (its `NodeIntegrity.cosign`, so a finding quarantines the whole node). */
  readonly cosign?: GuardedCosign;
  /** When this node may stand for sequencer (integrity/sequencer-gate.ts: not while it is damaged). */
  readonly sequencerGate?: CandidacyGate;
  readonly onCheckpoint?: CheckpointPublished;
  readonly onError?: (error: unknown) => void;
}

/** Opens and starts the node's ClusterLedger. */
export function openNodeLedgerPort(o: NodeLedgerPortOptions): ClusterLedger {
  const paths = dataPaths(o.dir);
  const files = nodeFiles(o.dir);
  const offline = o.config.role === "offline";
  const logVerifierKey = readFileSync(paths.ledgerVerifierKey, "utf8").trim();
  const logSigner = offline ? undefined : createNoteSigner(readKeyFile(paths.ledgerKey));
  const cosigner = offline ? undefined : createCosigner(readKeyFile(files.witnessKey), Date.now);
  const storage = existsSync(paths.ledgerDb)
    ? openSqliteLog(paths.ledgerDb)
    : createSqliteLog({
        path: paths.ledgerDb,
        origin: parseVerifierKey(logVerifierKey).name,
        verifierKey: logVerifierKey,
      });
  const peers = [...o.config.online, ...o.config.offline];
  return new ClusterLedger({
    client: o.etcd,
    prefix: o.config.prefix,
    nodeName: o.config.self,
    storage,
    db: o.db,
    applyCommand: o.applyCommand,
    ...(logSigner !== undefined ? { logSigner } : {}),
    logVerifierKey,
    ...(cosigner !== undefined ? { cosigner } : {}),
    policy: readCosignerPolicy(o.dir),
    ...(o.cosign !== undefined ? { cosign: o.cosign } : {}),
    ...(o.sequencerGate !== undefined ? { sequencerGate: o.sequencerGate } : {}),
    offline,
    ...(o.tls !== undefined ? { catchUp: { peers, tls: o.tls } } : {}),
    ...(o.onCheckpoint !== undefined ? { onCheckpoint: o.onCheckpoint } : {}),
    ...(o.onError !== undefined ? { onError: o.onError } : {}),
  }).start();
}
