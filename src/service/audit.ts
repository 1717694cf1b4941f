/**
 * Writing operations to the ledger: every login, logout, failure, lock-out, device registration and
 * office action becomes an entry, and the checkpoint is re-signed after each batch, so an operation is
 * acknowledged only once it is durable and covered by a signed checkpoint.
 */
import type { RecordInput } from "../ledger/entry/operation-record.js";
import type { AppendResult } from "../ledger/sequencer.js";
import type { Actor, ServiceContext } from "./context.js";
import { dueAlerts } from "./alerts.js";
import { ledgerTime } from "./ledger-time.js";
import { stampCheckpoint } from "./time-stamps.js";

type Outcome = "success" | "minor-failure" | "serious-failure" | "major-failure";

/** The fields every record shares, from the actor and the context. */
export function recordCommon(ctx: ServiceContext, actor: Actor, outcome: Outcome, outcomeDesc?: string) {
  return {
    // Never earlier than the last entry, even if the wall clock was set back (T1).
    time: ledgerTime(ctx),
    actor: {
      id: actor.loginId,
      role: actor.role,
      ...(actor.ip !== undefined ? { network: { address: actor.ip, type: "ip" as const } } : {}),
      ...(actor.certificate !== undefined ? { certificate: actor.certificate } : {}),
      ...(actor.device !== undefined ? { device: actor.device } : {}),
    },
    institution: actor.institutionId,
    outcome,
    ...(outcomeDesc !== undefined ? { outcomeDesc } : {}),
    ...(actor.requestId !== undefined ? { requestId: actor.requestId } : {}),
    source: { observer: ctx.config.nodeName },
  };
}

/**
 * Appends the records as one durable batch (plus any monitoring alert they complete), signs a new
 * checkpoint covering them and time-stamps that
 * checkpoint (RFC 3161). A time-stamp authority that cannot answer does not undo the operation: that
 * checkpoint stays unstamped (monitoring counts them) and the next one is stamped.
 */
export async function audit(ctx: ServiceContext, records: readonly RecordInput[]): Promise<AppendResult[]> {
  const results = await ctx.ledger.append(records.map((record) => ({ record })));
  // L6: a burst these records complete becomes an alert entry at once.
  const alerts = dueAlerts(ctx, records);
  if (alerts.length > 0) await ctx.ledger.append(alerts.map((record) => ({ record })));
  const checkpoint = ctx.ledger.signCheckpoint(ctx.signer);
  await stampCheckpoint(ctx, checkpoint).catch(() => undefined);
  return results;
}

/** Office and account actions recorded as `admin` entries. */
export type AdminAction = Extract<RecordInput, { type: "admin" }>["action"];
export type AdminTargetKind = Extract<RecordInput, { type: "admin" }>["target"]["kind"];

export function adminRecord(
  ctx: ServiceContext,
  actor: Actor,
  action: AdminAction,
  target: { kind: AdminTargetKind; id: string },
  outcome: Outcome = "success",
  outcomeDesc?: string,
): RecordInput {
  return { ...recordCommon(ctx, actor, outcome, outcomeDesc), type: "admin", action, target };
}
