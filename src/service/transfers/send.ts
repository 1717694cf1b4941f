/**
 * 送信確定: the sender makes a converted transfer visible to its receiver, sealed (JWS + RFC 3161 token)
 * over the exact stored bytes.
 */
import type { RecordInput } from "../../ledger/entry/operation-record.js";
import { recordCommon } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import { startSeal } from "../signing/seals.js";
import type { Session } from "../identity/sessions.js";
import { transferSend } from "../state-commands/transfer-commands.js";
import { toView } from "./records.js";
import type { TransferView } from "./view.js";
import { checkedStandard, standardRef } from "./checked-standard.js";
import { mustRow, partyRow } from "./party-transfer.js";
import { deny, stateError } from "./refusal.js";
import { changeState } from "./state-change.js";

/** 送信確定: makes a converted transfer visible to its receiver. */
export async function sendTransfer(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  id: string,
): Promise<TransferView> {
  const row = await partyRow(ctx, actor, session, id, "send", "sender");
  if (row.status !== "converted")
    return deny(ctx, actor, "send", stateError("送信確定できるのは変換済みの転送だけです"), id);
  // The send entry's time first, then the seal's: ledger times never go backwards within a batch.
  const sendEntry: RecordInput = {
    ...recordCommon(ctx, actor, "success"),
    type: "send",
    transfer: id,
    receiver: row.receiver_id,
    file: standardRef(row),
  };
  // The seal (JWS + RFC 3161 token) over the exact stored bytes, signed as they are read back and
  // checked against the recorded hash (the file is never held whole), made before anything changes: a
  // payload that fails the check, or a time-stamp authority that cannot answer, refuses the send and
  // leaves the transfer as it was.
  const sealing = await startSeal(ctx);
  await checkedStandard(ctx, row, (piece) => {
    sealing.update(piece);
  });
  const seal = await sealing.finish({ ...actor, device: undefined }, id);
  const now = ctx.now();
  const message = "送信確定できるのは変換済みの転送だけです";
  await changeState(
    ctx,
    actor,
    "send",
    message,
    id,
    [sendEntry, seal],
    transferSend.of({ id, receiverId: row.receiver_id, records: row.records ?? 0, at: now.toISOString() }),
  );
  return toView(ctx, mustRow(ctx, id));
}
