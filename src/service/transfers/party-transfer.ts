/**
 * The transfer a sender or receiver acts on: visible to this session's institution in that role, and
 * agreeing with its verified ledger entries before anything is decided from it.
 */
import type { Actor, ServiceContext } from "../context.js";
import type { ServiceError } from "../errors.js";
import type { DenialAction } from "../audit/refusal-log.js";
import type { Session } from "../identity/sessions.js";
import { verifiedTransfer } from "./authority.js";
import { notFound, transferRow, visibleTransfer, type TransferRow } from "./records.js";
import { deny } from "./refusal.js";

/** The transfer if this session is its sender (or receiver); otherwise the recorded missing-transfer answer. */
export async function partyRow(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  id: string,
  action: DenialAction,
  party: "sender" | "receiver",
): Promise<TransferRow> {
  let row: TransferRow;
  try {
    row = visibleTransfer(ctx, session, id);
    const holder = party === "sender" ? row.sender_id : row.receiver_id;
    if (holder !== session.institution.id) throw notFound();
  } catch (error) {
    return deny(ctx, actor, action, error as ServiceError);
  }
  // The row decided nothing yet: it must agree with the verified entries (who, which hashes).
  await verifiedTransfer(ctx, row);
  return row;
}

/** The transfer row after a change that made it (or kept it); its absence is a missing transfer. */
export function mustRow(ctx: ServiceContext, id: string): TransferRow {
  const row = transferRow(ctx, id);
  if (!row) throw notFound();
  return row;
}
