/**
 * Physical deletion of payloads no longer needed: a configurable time after receipt confirmation, and
 * unconfirmed transfers after a configurable expiry (both parties see the coming deletion in their
 * lists beforehand). Chunks and the wrapped data key are deleted with secure_delete on and the WAL
 * truncated; the trail and the hashes stay. Runs at start and periodically on the server.
 *
 * On a cluster every online node runs it, and each deletion is one state command (`transfer.expire`,
 * with its `deletion` entry) ordered through etcd and applied by every node, the offline node
 * included, to its own copy (its chunks leave chunks.db in the release step,
 * cluster/payload-chunk-release.ts). Two nodes may find the same transfer due at once: the sequencer
 * checks each command against the state the ones before it leave (cluster/replicated-state.ts
 * `prepare`), so the second deletion is refused with TRANSFER_STATE before it is ordered — nothing of
 * it is written anywhere, no second entry — and its node takes that as "already deleted", not as a
 * failure. A node first catches up with what the cluster ordered, so it rarely proposes what another
 * node already deleted.
 */
import { truncateWal } from "../../store/payload-store.js";
import { isCodedError } from "../../coded-error.js";
import { audit, recordCommon } from "../audit/audit.js";
import { systemActor, type ServiceContext } from "../context.js";
import { transferExpire } from "../state-commands/transfer-commands.js";
import { TRANSFER_COLUMNS, type TransferRow } from "./records.js";

export interface RetentionResult {
  readonly deleted: number;
}

export async function runRetention(ctx: ServiceContext): Promise<RetentionResult> {
  // On a cluster: what the others already deleted is applied here first (bounded; at once without a
  // majority, when the deletions below are refused with the coded 503 anyway).
  await ctx.cluster?.caughtUp?.();
  const now = ctx.now().toISOString();
  const due = ctx.db
    .prepare<[string], TransferRow>(
      `SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE status NOT IN ('deleted', 'discarded') AND delete_after IS NOT NULL AND delete_after <= ?
       ORDER BY delete_after LIMIT 1000`,
    )
    .all(now);
  const actor = systemActor("retention");
  let deleted = 0;
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
    ).then(
      () => {
        deleted += 1;
      },
      (error: unknown) => {
        // The transfer changed status since it was selected — a concurrent request, or on a cluster
        // another node's deletion ordered first (the sequencer's refusal carries the applier's code,
        // cluster/command-ordering.ts RefusedCommandError): nothing was written; left as it is.
        if (!(isCodedError(error) && error.code === "TRANSFER_STATE")) throw error;
      },
    );
  }
  // The chunks were deleted inside the batches' transactions: now cut the WAL as well.
  if (due.length > 0) truncateWal(ctx.db);
  return { deleted };
}
