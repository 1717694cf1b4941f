/**
 * A transfer's status change, made together with the entries that record it (`audit(…, { command })`,
 * the appliers in state-commands/transfer-commands.ts): the transfer row, its payload and its upload +
 * conversion entries exist all or not at all, and so do a status change and its entry. The state
 * change runs inside the ledger batch's transaction and re-checks the status it starts from, so two
 * concurrent requests cannot both move the same transfer.
 */
import type { RecordInput } from "../../ledger/entry/operation-record.js";
import type { StateCommand } from "../../ledger/write-port.js";
import { audit } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import { ServiceError } from "../errors.js";
import type { DenialAction } from "../audit/refusal-log.js";
import { deny, stateError } from "./refusal.js";

/**
 * Appends the entries of a status change together with the change. When the transfer has left the
 * expected status meanwhile (a concurrent request moved it), nothing is written and the refusal is
 * recorded instead.
 */
export async function changeState(
  ctx: ServiceContext,
  actor: Actor,
  action: DenialAction,
  message: string,
  id: string,
  records: readonly RecordInput[],
  command: StateCommand,
): Promise<void> {
  try {
    await audit(ctx, records, { command });
  } catch (error) {
    if (error instanceof ServiceError && error.code === "TRANSFER_STATE") {
      return deny(ctx, actor, action, stateError(message), id);
    }
    throw error;
  }
}
