/**
 * Writing operations to the ledger: every login, logout, failure, lock-out, device registration and
 * office action becomes an entry, appended through the node's write port (`ledger/write-port.ts`): the
 * call resolves once the entries — and the state change they record, when one is given — are durable.
 * Checkpoints are the ledger's business (on a cadence); a caller that hands out proofs waits for one
 * covering its entries (`ctx.ledger.checkpointCovering`).
 */
import type { RecordInput } from "../../ledger/entry/operation-record.js";
import type { AppendOptions, AppendResult } from "../../ledger/write-port.js";
import type { Actor, ServiceContext } from "../context.js";
import { alertKindOf, dueAlerts } from "./alerts.js";
import { ledgerTime } from "../signing/ledger-time.js";

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
 * Appends the records of one operation; resolves once they are durable. `options.command` is the
 * service-database change they record, as data (`state-commands/`), applied in the same atomic step
 * (both or neither); its applier re-checks its own preconditions and throws to refuse. A monitoring alert the records complete (L6) is appended right after, through the same group
 * commit. Checkpoints — and their RFC 3161 time stamps — are the write port's publication (node.ts).
 */
export async function audit(
  ctx: ServiceContext,
  records: readonly RecordInput[],
  options?: AppendOptions,
): Promise<AppendResult[]> {
  const results = await ctx.ledger.append(
    records.map((record) => ({ record })),
    options,
  );
  if (records.some((r) => alertKindOf(r) !== undefined)) await raiseDueAlerts(ctx, records);
  return results;
}

/**
 * Alert checks of one context run one after another, so two concurrent operations that together cross a
 * threshold raise one alert, not two (the second check sees the first alert's entry).
 */
const alertChecks = new WeakMap<ServiceContext, Promise<void>>();

function raiseDueAlerts(ctx: ServiceContext, records: readonly RecordInput[]): Promise<void> {
  const previous = alertChecks.get(ctx) ?? Promise.resolve();
  const next = previous.then(async () => {
    const alerts = dueAlerts(ctx, records);
    if (alerts.length > 0) await ctx.ledger.append(alerts.map((record) => ({ record })));
  });
  // The operation is already durable: a failed alert append does not undo it.
  const settled = next.catch(() => undefined);
  alertChecks.set(ctx, settled);
  return settled;
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
