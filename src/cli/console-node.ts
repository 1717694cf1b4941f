/**
 * Running an operation on the node's console: opens the data directory, acts as the console user on
 * behalf of the office (so ledger entries name who ran the command), and closes the node afterwards.
 */
import { userInfo } from "node:os";
import type { Actor, ServiceContext } from "../service/context.js";
import { listInstitutions } from "../service/identity/institutions.js";
import { closeNode, openNode } from "../service/node.js";

export function consoleActor(ctx: ServiceContext): Actor {
  const office = listInstitutions(ctx).find((i) => i.kind === "office");
  return {
    loginId: `console:${userInfo().username}`.slice(0, 64),
    institutionId: office?.id ?? "-",
    role: "admin",
  };
}

export async function withConsoleNode<T>(
  dir: string,
  run: (ctx: ServiceContext, actor: Actor) => Promise<T>,
): Promise<T> {
  const ctx = await openNode(dir);
  try {
    return await run(ctx, consoleActor(ctx));
  } finally {
    closeNode(ctx);
  }
}
