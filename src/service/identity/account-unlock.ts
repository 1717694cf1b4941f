/**
 * The office lifts a lock-out before it runs out (the clerk phoned: the ID is needed now). The failure
 * count starts again from zero; the unlock is a ledger entry naming the office's actor.
 */
import { findAccount } from "./accounts.js";
import { adminRecord, audit } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import { ServiceError } from "../errors.js";
import { accountUnlock } from "../state-commands/session-commands.js";

/** Unlocks `loginId`. Returns whether it was locked at that moment. */
export async function unlockAccount(
  ctx: ServiceContext,
  actor: Actor,
  loginId: string,
): Promise<{ loginId: string; wasLocked: boolean }> {
  const account = findAccount(ctx, loginId);
  if (!account) throw new ServiceError("NOT_FOUND", "利用者IDが見つかりません", {});
  const wasLocked = account.lockedUntil !== null && account.lockedUntil > ctx.now().getTime();
  await audit(
    ctx,
    [
      adminRecord(
        ctx,
        actor,
        "account.unlock",
        { kind: "account", id: loginId },
        "success",
        wasLocked ? "locked" : "not locked",
      ),
    ],
    {
      command: accountUnlock.of({ loginId }),
    },
  );
  return { loginId, wasLocked };
}
