/** The sender discards a converted transfer before 送信確定; its payload is deleted at once. */
import { truncateWal } from "../../store/payload-store.js";
import { recordCommon } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import type { Session } from "../identity/sessions.js";
import { transferDiscard } from "../state-commands/transfer-commands.js";
import { toView } from "./records.js";
import type { TransferView } from "./view.js";
import { mustRow, partyRow } from "./party-transfer.js";
import { deny, stateError } from "./refusal.js";
import { changeState } from "./state-change.js";

/** Discards a converted transfer before sending: the payload is deleted at once. */
export async function discardTransfer(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  id: string,
): Promise<TransferView> {
  const row = await partyRow(ctx, actor, session, id, "discard", "sender");
  if (row.status !== "converted")
    return deny(ctx, actor, "discard", stateError("破棄できるのは送信確定前の転送だけです"), id);
  // As every other operation, the segment was verified (partyRow) before the deletion.
  const message = "破棄できるのは送信確定前の転送だけです";
  const deletedAt = ctx.now().toISOString();
  await changeState(
    ctx,
    actor,
    "discard",
    message,
    id,
    [
      {
        ...recordCommon(ctx, actor, "success"),
        type: "deletion",
        transfer: id,
        reason: "cancelled",
        erased: ["payload", "data-key"],
      },
    ],
    transferDiscard.of({ id, at: deletedAt }),
  );
  // Deleted inside the batch's transaction: now cut the WAL so no older page image keeps the chunks.
  truncateWal(ctx.db);
  return toView(ctx, mustRow(ctx, id));
}
