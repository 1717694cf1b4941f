/**
 * Physical deletion of payloads no longer needed: a configurable time after receipt confirmation, and
 * unconfirmed transfers after a configurable expiry (both parties see the coming deletion in their
 * lists beforehand). Chunks and the wrapped data key are deleted with secure_delete on and the WAL
 * truncated; the trail and the hashes stay. Runs at start and periodically on the server.
 */
import { truncateWal } from "../store/payload-store.js";
import { audit, recordCommon } from "./audit.js";
import { systemActor, type ServiceContext } from "./context.js";
import { ServiceError } from "./errors.js";
import { transferExpire } from "./state-commands/transfer-commands.js";
import { TRANSFER_COLUMNS, type TransferRow } from "./transfer-records.js";

export interface RetentionResult {
  readonly deleted: number;
}

export async function runRetention(ctx: ServiceContext): Promise<RetentionResult> {
  const now = ctx.now().toISOString();
  const due = ctx.db
    .prepare<[string], TransferRow>(
      `SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE status NOT IN ('deleted', 'discarded') AND delete_after IS NOT NULL AND delete_after <= ?
       ORDER BY delete_after LIMIT 1000`,
    )
    .all(now);
  const actor = systemActor("retention");
  for (const row of due) {
    // The deletion and its entry together; the status it starts from is checked again inside.
    await audit(
      ctx,
      [
        {
          ...recordCommon(ctx, { ...actor, institutionId: row.sender_id }, "success"),
          type: "deletion",
          transfer: row.id,
          reason: row.status === "received" ? "received" : "expired",
          erased: ["payload", "data-key"],
        },
      ],
      {
        command: transferExpire.of({ id: row.id, from: row.status, at: now }),
      },
    ).catch((error: unknown) => {
      // A transfer that changed status since it was selected (a concurrent request): left for the next run.
      if (!(error instanceof ServiceError && error.code === "TRANSFER_STATE")) throw error;
    });
  }
  // The chunks were deleted inside the batches' transactions: now cut the WAL as well.
  if (due.length > 0) truncateWal(ctx.db);
  return { deleted: due.length };
}
