/**
 * The offline backup node as one process (`kenshin cluster offline --data <dir>`): it follows the
 * cluster from etcd and applies every batch to its own service.db + ledger.db (its ClusterLedger in
 * offline mode), verifies its copy (the entry watch before each cosignature, the rolling full check in a
 * worker thread), cosigns each published checkpoint its copy reproduces with its own witness key (an
 * extra attestation beside the online nodes' quorum, visible in monitoring as its last cosigned size),
 * holds the payload ciphertext the online nodes push to it (chunks.db), keeps encrypted backup
 * generations of all three files on a schedule (and scrubs a deleted transfer's key and chunks out of the
 * generations taken before its deletion), and is the repair source of last resort.
 *
 * What it listens on: exactly one socket, its peer endpoint (`listenPeer` of cluster-node.json) — HTTPS
 * over mutual TLS that completes only with a node certificate of the service CA and answers only the
 * peer node names; the online nodes push chunks there and fetch entries, rows and chunks from it when
 * they repair or catch up. No user-facing listener is ever opened (test/cluster/offline-node.int.test.ts
 * reads the process's listening sockets from /proc to prove it). Everything else is outgoing: etcd, and
 * the peers' endpoints when it repairs itself.
 *
 * It never holds the KEK: it refuses to start when `keys/kek.key` is in its directory. It cannot append
 * (the log's writers are the online nodes), so what it would otherwise record as entries it publishes
 * as monitoring facts in etcd (`integrity/health-facts.ts`): each backup generation, its health and its
 * repairs.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { randomBytes } from "node:crypto";
import { readKeyFile } from "../crypto/key-file.js";
import { createCosigner } from "../crypto/note-signer.js";
import { parseVerifierKey } from "../ledger/verify/verifier-key.js";
import { takeGeneration, listGenerations, backupsDir } from "../service/backup/backup-generation.js";
import { startGenerationSchedule, type BackupSchedule } from "../service/backup/backup-schedule.js";
import { scrubGenerations } from "../service/backup/generation-scrub.js";
import { pendingScrubCount, prepareScrubQueue } from "../service/backup/generation-scrub-queue.js";
import { loadConfig } from "../service/config.js";
import { openClusterNode } from "../service/cluster/cluster-node.js";
import { dataPaths } from "../service/data-dir.js";
import { openServiceDb } from "../store/service-db.js";
import type { SqliteLog } from "../store/sqlite-log.js";
import { readNodeClusterConfig } from "./cluster-agent.js";
import { nodeFiles } from "./cluster-init.js";
import type { ClusterLedger } from "./cluster-ledger.js";
import type { NodeClusterConfig } from "./cluster-topology.js";
import { offerCosignature } from "./cosign-exchange.js";
import { CosignerMemory } from "./cosigner-memory.js";
import { ClusterError } from "./errors.js";
import { publishBackupFact } from "./integrity/health-facts.js";
import type { NodeState as HealthState } from "./integrity/node-health.js";
import type { NodeIntegrity } from "./integrity/node-integrity.js";
import type { RunningPeerServer } from "./peer/peer-server.js";

/** After a failed scrub round (a generation that does not open, say), the next one waits this long. */
const SCRUB_RETRY_MS = 60_000;

export interface OfflineNodeOptions {
  /** Between full checks (default 5 minutes). */
  readonly checkIntervalMs?: number;
  /** Between backup generations (default 1 hour). */
  readonly backupIntervalMs?: number;
  /** Between looks at the queue of deleted transfers to scrub from the generations (default 2 s). */
  readonly scrubIntervalMs?: number;
  /** Between cosigning rounds (default 1 s). */
  readonly cosignIntervalMs?: number;
  readonly presenceTtlSeconds?: number;
  readonly log?: (line: string) => void;
  readonly now?: () => Date;
}

export interface OfflineNode {
  readonly config: NodeClusterConfig;
  readonly peerServer: RunningPeerServer;
  readonly ledger: ClusterLedger;
  readonly integrity: NodeIntegrity;
  readonly backups: BackupSchedule;
  /** Size of the last checkpoint this node cosigned (0: none yet). */
  lastCosignedSize(): number;
  stop(): Promise<void>;
}

/**
 * Starts the offline node of `dataDir`.
 * @throws ClusterError CLUSTER_OPTION_INVALID (not an offline cluster node, or a KEK in its directory)
 */
export async function startOfflineNode(dataDir: string, o: OfflineNodeOptions = {}): Promise<OfflineNode> {
  const log = o.log ?? (() => undefined);
  const now = o.now ?? (() => new Date());
  const config = readNodeClusterConfig(dataDir);
  if (config?.role !== "offline") {
    throw new ClusterError(
      "CLUSTER_OPTION_INVALID",
      `オフライン (バックアップ) ノードのデータディレクトリではありません: ${dataDir}`,
      {},
    );
  }
  const paths = dataPaths(dataDir);
  const files = nodeFiles(dataDir);
  if (existsSync(paths.kek)) {
    throw new ClusterError(
      "CLUSTER_OPTION_INVALID",
      "オフラインノードは鍵暗号化鍵 (keys/kek.key) を持ってはいけません。ファイルを取り除いてください",
      { reason: "kek-present" },
    );
  }
  const serviceConfig = await loadConfig(paths.config, {});
  const logKeyText = readFileSync(paths.ledgerVerifierKey, "utf8").trim();
  const logKey = parseVerifierKey(logKeyText);
  const witness = createCosigner(readKeyFile(files.witnessKey), () => now().getTime());

  const db = openServiceDb(paths.serviceDb, { create: !existsSync(paths.serviceDb) });
  // Before the release step starts (in openClusterNode): it queues every released payload from then on.
  prepareScrubQueue(db);
  const cleanup: (() => Promise<void> | void)[] = [
    () => {
      db.close();
    },
  ];
  const stopAll = async (): Promise<void> => {
    for (const c of cleanup.splice(0).reverse()) {
      try {
        await c();
      } catch {
        // stopping: go on with the rest
      }
    }
  };
  try {
    // The same opening as every cluster node (service/cluster/cluster-node.ts): its agent (etcd client, chunk
    // store, the one peer endpoint, presence), the offline ClusterLedger with the service's applier
    // registry (replicated payloads stored from its chunk store, or fetched later), no quorum guard.
    const opened = await openClusterNode({
      dir: dataDir,
      config,
      db,
      checkIntervalMs: o.checkIntervalMs ?? 5 * 60_000,
      now,
      onError: (error) => {
        log(`follow failed: ${String(error)}`);
      },
      // Its integrity (service/cluster/cluster-node.ts, as on every node): route on the peer endpoint, health in
      // etcd and in its presence; it cannot append, so its repairs are published as monitoring facts.
      onRepair: (outcome) => {
        log(`repair ${outcome.ok ? "done" : "incomplete"}: ${outcome.unrepaired.length} unrepaired`);
      },
      onIntegrityError: (error) => {
        log(`integrity failed: ${String(error)}`);
      },
    });
    cleanup.push(() => opened.hooks.stop?.());
    const { agent, port: ledger, integrity } = opened;
    const { etcd, peerServer } = agent;
    const storage = (): SqliteLog => opened.ledgerFile();
    let lastState: HealthState = integrity.health.state;
    integrity.health.onChange((s) => {
      if (s.state !== lastState) {
        lastState = s.state;
        log(`health: ${s.state}${s.findings.length > 0 ? ` (${s.findings.slice(0, 5).join("; ")})` : ""}`);
      }
    });

    // Cosigning what its own copy reproduces, through the guard (checks new entries first).
    const memory = new CosignerMemory(db);
    let cosignedSize = memory.last()?.size ?? 0;
    let cosigning = false;
    const cosignRound = async (): Promise<void> => {
      if (cosigning || !integrity.health.serving()) return;
      cosigning = true;
      try {
        const signed = storage().latestCheckpoint();
        if (signed === null || signed.size <= cosignedSize) {
          return;
        }
        const cosigned = integrity.cosign({
          note: signed.note,
          logKey,
          cosigner: witness,
          last: memory.last(),
        });
        memory.remember(cosigned.state);
        const offered = await offerCosignature(etcd, config.prefix, {
          node: config.self,
          note: signed.note,
          line: cosigned.line,
        });
        if (offered === "diverged") {
          log(`cosign failed: size ${signed.size} differs from the online nodes' note`);
          return;
        }
        cosignedSize = signed.size;
      } catch (error) {
        log(`cosign failed: ${String(error)}`);
      } finally {
        cosigning = false;
      }
    };
    const cosignTimer = setInterval(() => void cosignRound(), o.cosignIntervalMs ?? 1000);
    cleanup.push(() => {
      clearInterval(cosignTimer);
    });

    const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
    const publishGeneration = (g: {
      name: string;
      createdAt: string;
      bytes: number;
      sha256: string;
      ledgerSize: number;
      files: readonly string[];
    }): void => {
      void listGenerations(backupsDir(paths))
        .then((names) =>
          publishBackupFact(etcd, config.prefix, {
            node: config.self,
            latest: g.name,
            createdAt: g.createdAt,
            bytes: g.bytes,
            sha256: g.sha256,
            ledgerSize: g.ledgerSize,
            files: [...g.files],
            generations: names.length,
          }),
        )
        .catch((error: unknown) => {
          log(`backup fact failed: ${String(error)}`);
        });
    };
    const backups = startGenerationSchedule({
      intervalMs: o.backupIntervalMs ?? 60 * 60_000,
      take: () => {
        // Before its first published checkpoint the copy has nothing a restore could be checked against.
        if (storage().latestCheckpoint() === null) {
          return Promise.reject(
            new ClusterError(
              "CLUSTER_UNAVAILABLE",
              "公開チェックポイントがまだないためバックアップを取りません",
              {
                reason: "no-checkpoint-yet",
              },
            ),
          );
        }
        return takeGeneration({
          paths,
          db,
          nodeName: config.self,
          keep: serviceConfig.backup.keep,
          chunksDb: files.chunks,
          now,
          random,
        });
      },
      onBackup: (info) => {
        publishGeneration({ ...info, name: basename(info.file) });
        log(`backup taken: ${info.file} ledger ${info.ledgerSize}`);
      },
      onError: (error) => {
        const early = error instanceof ClusterError && error.context.reason === "no-checkpoint-yet";
        log(`backup ${early ? "skipped" : "failed"}: ${String(error)}`);
      },
    });
    cleanup.push(() => backups.stop());

    // Deleted transfers leave the generations taken before the deletion too (generation-scrub.ts): the
    // release step queues each one once it is gone from the live files; a round (in line with the takes)
    // rewrites every generation that holds it. A failed round is retried after SCRUB_RETRY_MS.
    let scrubbing = false;
    let retryAt = 0;
    const scrubRound = async (): Promise<void> => {
      if (scrubbing || now().getTime() < retryAt || pendingScrubCount(db) === 0) return;
      scrubbing = true;
      try {
        const r = await backups.exclusive(() => scrubGenerations({ db, paths, random }));
        log(
          `backup scrub: ${r.transfers} deleted transfers, ${r.rewritten.length} of ${r.generations} generations rewritten`,
        );
        const names = await listGenerations(backupsDir(paths));
        const newest = r.rewritten.find((g) => g.name === names.at(-1));
        if (newest !== undefined) publishGeneration(newest);
      } catch (error) {
        retryAt = now().getTime() + SCRUB_RETRY_MS;
        log(`backup scrub failed: ${String(error)}`);
      } finally {
        scrubbing = false;
      }
    };
    const scrubTimer = setInterval(() => void scrubRound(), o.scrubIntervalMs ?? 2000);
    cleanup.push(() => {
      clearInterval(scrubTimer);
    });

    return {
      config,
      peerServer,
      ledger,
      integrity,
      backups,
      lastCosignedSize: () => cosignedSize,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
