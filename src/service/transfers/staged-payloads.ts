/**
 * Payloads this node holds ready for a `transfer.create` command (state-commands/transfer-commands.ts):
 * an upload's spool is staged under its transfer id before the append, the applier stores it inside the
 * batch's transaction, and the upload releases it afterwards (committed or not). The command itself
 * carries only data; the payload travels beside it (on a cluster, replicated to the nodes by B2's
 * payload replication instead).
 */
import type { ServiceDb } from "../../store/service-db.js";
import { ServiceError } from "../errors.js";

export class StagedPayloads {
  readonly #held = new Map<string, (db: ServiceDb) => void>();

  /** Holds `commit` (stores the payload of `transferId` into `db`) until {@link release}. */
  stage(transferId: string, commit: (db: ServiceDb) => void): void {
    this.#held.set(transferId, commit);
  }

  release(transferId: string): void {
    this.#held.delete(transferId);
  }

  /** Stores the staged payload (inside the caller's transaction). @throws ServiceError UPLOAD_INTERRUPTED */
  commit(db: ServiceDb, transferId: string): void {
    const commit = this.#held.get(transferId);
    if (commit === undefined) {
      throw new ServiceError("UPLOAD_INTERRUPTED", "アップロードされたデータがこのノードにありません", {
        transferId,
      });
    }
    commit(db);
  }
}
