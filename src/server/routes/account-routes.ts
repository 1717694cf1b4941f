/**
 * The UI's working-day additions around accounts: renaming and removing one's own devices, and the
 * office lifting a lock-out. (Login, password change and device registration: session-routes.ts.)
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { unlockAccount } from "../../service/identity/account-unlock.js";
import type { ServiceContext } from "../../service/context.js";
import { removeDevice, renameDevice } from "../../service/identity/device-management.js";
import { ServiceError } from "../../service/errors.js";
import { guard } from "../request-auth.js";

const deviceParam = z.object({ id: z.string().max(64) }).strict();
const loginParam = z.object({ loginId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{2,31}$/) }).strict();

function deviceId(params: unknown): string {
  const r = deviceParam.safeParse(params);
  if (!r.success) throw new ServiceError("NOT_FOUND", "端末が見つかりません", {});
  return r.data.id;
}

export function registerAccountRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app.post("/api/v1/devices/:id/label", async (request) => {
    const { actor } = await guard(ctx, request, { change: true });
    return { device: await renameDevice(ctx, actor, deviceId(request.params), request.body) };
  });

  app.delete("/api/v1/devices/:id", async (request, reply) => {
    const { actor } = await guard(ctx, request, { change: true });
    await removeDevice(ctx, actor, deviceId(request.params));
    return reply.code(204).send();
  });

  app.post("/api/v1/admin/accounts/:loginId/unlock", async (request) => {
    const { actor } = await guard(ctx, request, { role: "admin", change: true });
    const r = loginParam.safeParse(request.params);
    if (!r.success) throw new ServiceError("NOT_FOUND", "利用者IDが見つかりません", {});
    return unlockAccount(ctx, actor, r.data.loginId);
  });
}
