/**
 * Writing operations to the ledger: every login, logout, failure, lock-out, device registration and
 * office action becomes an entry, appended through the node's write port (`ledger/write-port.ts`): the
 * call resolves once the entries — and the state change they record, when one is given — are durable.
 * Checkpoints are the ledger's business (on a cadence); a caller that hands out proofs waits for one
 * covering its entries (`ctx.ledger.checkpointCovering`).
 */
import type { RecordInput } from "../ledger/entry/operation-record.js";
import type { AppendOptions, AppendResult } from "../ledger/write-port.js";
import type { Actor, ServiceContext } from "./context.js";

type Outcome = "success" | "minor-failure" | "serious-failure" | "major-failure";

/** The fields every record shares, from the actor and the context. */
export function recordCommon(ctx: ServiceContext, actor: Actor, outcome: Outcome, outcomeDesc?: string) {
  return {
    time: ctx.now().toISOString(),
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
 * Appends the records of one operation; resolves once they are durable. `options.stateChange` is the
 * service-database change they record, made in the same atomic step (both or neither); it runs
 * synchronously inside the batch's transaction, so it re-checks its own preconditions and throws to
 * refuse.
 */
export function audit(
  ctx: ServiceContext,
  records: readonly RecordInput[],
  options?: AppendOptions,
): Promise<AppendResult[]> {
  return ctx.ledger.append(
    records.map((record) => ({ record })),
    options,
  );
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
