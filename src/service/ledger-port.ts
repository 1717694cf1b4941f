/**
 * The node's ledger write port. {@link chooseLedgerPort} is the ONE place in the service where it is
 * chosen: the embedded node's publisher (group commit into ledger.db, state changes made atomic through
 * the outbox in service.db, checkpoints signed on a cadence with keys/ledger.key) or, for a cluster
 * member (the data directory holds a `cluster-node.json`), the replicated port on etcd with its cluster
 * side (cluster/cluster-node.ts). Nothing else in `service/` chooses; keep it that way, so that what a
 * node writes through can be read off one function.
 */
import { readKeyFile } from "../crypto/key-file.js";
import { createNoteSigner, type NoteSigner } from "../crypto/note-signer.js";
import { EmbeddedLedger, type LedgerPort } from "../ledger/embedded-ledger.js";
import { LedgerError } from "../ledger/errors.js";
import type { LogStorage } from "../ledger/log-storage.js";
import type { CheckpointPublished } from "../ledger/write-port.js";
import type { NodeClusterConfig } from "../cluster/cluster-topology.js";
import type { ServiceDb } from "../store/service-db.js";
import { sqliteOutbox } from "../store/sqlite-outbox.js";
import { noteGenerationScrub } from "./backup/generation-scrub-queue.js";
import { openSqliteLog } from "../store/sqlite-log.js";
import type { ClusterHooks } from "./cluster/cluster-hooks.js";
import { logClusterError } from "./cluster/cluster-error-log.js";
import { openClusterNode } from "./cluster/cluster-node.js";
import { dataPaths } from "./data-dir.js";
import { ServiceError } from "./errors.js";
import { commandApplier } from "./state-commands/registry.js";
import type { StagedPayloads } from "./transfers/staged-payloads.js";
import { damageView, type TransferDamageView } from "./transfers/damage.js";

/** The port openNode puts into the context, with what a cluster member adds to it. */
export interface ChosenPort {
  readonly ledger: LedgerPort;
  readonly cluster?: ClusterHooks;
  /** A cluster node's damaged transfers (transfers/damage.ts). */
  readonly damage?: TransferDamageView;
}

export interface ChooseLedgerPortOptions {
  /** The node's data directory. */
  readonly dir: string;
  /** Its `cluster-node.json`, when it is a cluster member. */
  readonly member: NodeClusterConfig | undefined;
  readonly db: ServiceDb;
  readonly payloads: StagedPayloads;
  /** The publication hook (stamping-hook.ts). */
  readonly onCheckpoint: CheckpointPublished;
  /** A cluster node's background errors; default: one line on stderr (cluster-error-log.ts). */
  readonly onClusterError: ((error: unknown) => void) | undefined;
  readonly checkIntervalMs: number;
  readonly onUnrepairable: (damage: { transfer: string | undefined; address: string }) => Promise<void>;
  readonly chunkGraceMs: number;
}

/**
 * The one place the node's write port is chosen: the replicated port on etcd for a cluster member
 * (cluster/cluster-node.ts; with the cluster hooks the service uses), else the embedded publisher.
 */
export async function chooseLedgerPort(options: ChooseLedgerPortOptions): Promise<ChosenPort> {
  const { dir, member, db, payloads, onCheckpoint } = options;
  if (member !== undefined) {
    const opened = await openClusterNode({
      dir,
      config: member,
      db,
      onCheckpoint,
      onError: options.onClusterError ?? logClusterError,
      checkIntervalMs: options.checkIntervalMs,
      onUnrepairable: options.onUnrepairable,
      chunkGraceMs: options.chunkGraceMs,
    });
    return {
      ledger: opened.ledger,
      cluster: opened.hooks,
      damage: damageView(db, opened.integrity.health),
    };
  }
  const paths = dataPaths(dir);
  const signer = createNoteSigner(readKeyFile(paths.ledgerKey));
  return { ledger: openLedgerPort(openSqliteLog(paths.ledgerDb), signer, db, payloads, onCheckpoint) };
}

/**
 * The embedded node's ledger write port: the publisher over the ledger file, with the outbox in the
 * service database (opening it appends whatever a crash left there and signs a checkpoint covering it).
 * Used by {@link chooseLedgerPort} and by `kenshin init` (a new directory is never a cluster member).
 */
export function openLedgerPort(
  storage: LogStorage,
  signer: NoteSigner,
  db: ServiceDb,
  payloads: StagedPayloads,
  onCheckpoint?: CheckpointPublished,
): LedgerPort {
  const apply = commandApplier({
    commitPayload: (into, transferId) => {
      payloads.commit(into, transferId);
    },
    // The payload and its key were only in service.db and went in this transaction: this node's backup
    // generations follow (when it keeps any, generation-scrub-queue.ts).
    releasePayload: noteGenerationScrub,
  });
  try {
    return new EmbeddedLedger({
      storage,
      signer,
      outbox: sqliteOutbox(db),
      applyCommand: (command, results) => {
        apply(command, results, db);
      },
      ...(onCheckpoint !== undefined ? { onCheckpoint } : {}),
    });
  } catch (error) {
    storage.close();
    // The outbox in service.db holds entries the ledger file does not continue to: the file was swapped
    // or cut back (the node's memory would say the same once it could look).
    if (error instanceof LedgerError && error.code === "LEDGER_OUTBOX_INVALID") {
      throw new ServiceError(
        "INTEGRITY_FAILURE",
        "台帳が以前に確認した状態と一致しません (巻き戻しまたは差し替え)。事務局に連絡してください",
        { reason: "ledger-rollback", why: "outbox", ...error.context },
        { cause: error },
      );
    }
    throw error;
  }
}
