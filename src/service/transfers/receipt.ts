/** 受領確定: the receiver confirms a downloaded transfer; its payload is deleted after the grace period. */
import { recordCommon } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import type { Session } from "../identity/sessions.js";
import { transferReceipt } from "../state-commands/transfer-commands.js";
import { addDays, toView } from "./records.js";
import type { TransferView } from "./view.js";
import { standardRef } from "./checked-standard.js";
import { mustRow, partyRow } from "./party-transfer.js";
import { deny, stateError } from "./refusal.js";
import { changeState } from "./state-change.js";

/** 受領確定: the receiver confirms; the payload is deleted after the grace period. */
export async function confirmReceipt(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  id: string,
): Promise<TransferView> {
  const row = await partyRow(ctx, actor, session, id, "receipt", "receiver");
  if (row.status !== "downloaded") {
    return deny(ctx, actor, "receipt", stateError("受領確定はダウンロードの後にできます"), id);
  }
  const now = ctx.now();
  const message = "受領確定はダウンロードの後にできます";
  await changeState(
    ctx,
    actor,
    "receipt",
    message,
    id,
    [{ ...recordCommon(ctx, actor, "success"), type: "receipt", transfer: id, file: standardRef(row) }],
    transferReceipt.of({
      id,
      at: now.toISOString(),
      deleteAfter: addDays(now, ctx.config.retention.afterReceiptDays),
    }),
  );
  return toView(ctx, mustRow(ctx, id));
}
