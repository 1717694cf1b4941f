/**
 * How a refused transfer operation ends: the refusal is recorded as a `denial` entry (rate-limited per
 * address and ID: refusal-log.ts), then thrown to the caller.
 */
import type { Actor, ServiceContext } from "../context.js";
import { ServiceError } from "../errors.js";
import { recordRefusal, type DenialAction } from "../audit/refusal-log.js";

/** Records a refusal (rate-limited per address and ID: refusal-log.ts), then throws it. */
export async function deny(
  ctx: ServiceContext,
  actor: Actor,
  action: DenialAction,
  error: ServiceError,
  transferId?: string,
): Promise<never> {
  await recordRefusal(ctx, actor, { action, code: error.code, transferId });
  throw error;
}

/** The refusal of an operation the transfer's current status does not allow. */
export function stateError(message: string): ServiceError {
  return new ServiceError("TRANSFER_STATE", message, {});
}
