/**
 * Login, the current session, logout, password change, devices, and the receivers this ID may send to.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { changePassword } from "../../service/identity/accounts.js";
import type { ServiceContext } from "../../service/context.js";
import { countDevices, listDevices, registerDevice } from "../../service/identity/devices.js";
import { ServiceError } from "../../service/errors.js";
import { receiversOf } from "../../service/identity/institutions.js";
import { login, logout, type Session } from "../../service/identity/sessions.js";
import {
  clearedSessionCookie,
  guard,
  peerOf,
  requestIp,
  sessionCookie,
  signedRequest,
} from "../request-auth.js";

const loginBody = z.object({ loginId: z.string().max(64), password: z.string().max(256) }).strict();
const passwordBody = z.object({ current: z.string().max(256), next: z.string().max(256) }).strict();

function sessionView(ctx: ServiceContext, session: Session) {
  return {
    loginId: session.loginId,
    role: session.role,
    institution: {
      id: session.institution.id,
      kind: session.institution.kind,
      name: session.institution.name,
    },
    csrfToken: session.csrfToken,
    mustChangePassword: session.mustChangePassword,
    expiresAt: new Date(session.expiresAt).toISOString(),
    devices: countDevices(ctx, session.loginId),
  };
}

export function registerSessionRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app.post("/api/v1/session", async (request, reply) => {
    const body = loginBody.safeParse(request.body);
    if (!body.success)
      throw new ServiceError("REQUEST_INVALID", "利用者IDとパスワードを入力してください", {});
    const { token, session } = await login(ctx, {
      loginId: body.data.loginId,
      password: body.data.password,
      peer: peerOf(request),
      ip: requestIp(request),
      requestId: request.id,
    });
    const maxAge = Math.floor((session.expiresAt - ctx.now().getTime()) / 1000);
    return reply.code(201).header("set-cookie", sessionCookie(token, maxAge)).send(sessionView(ctx, session));
  });

  app.get("/api/v1/session", async (request) => {
    const { session } = await guard(ctx, request, { allowMustChange: true });
    return sessionView(ctx, session);
  });

  app.delete("/api/v1/session", async (request, reply) => {
    const { session, actor } = await guard(ctx, request, {
      change: true,
      device: false,
      allowMustChange: true,
    });
    await logout(ctx, session, actor);
    return reply.code(204).header("set-cookie", clearedSessionCookie()).send();
  });

  app.post("/api/v1/account/password", async (request, reply) => {
    const { actor } = await guard(ctx, request, { change: true, allowMustChange: true });
    const body = passwordBody.safeParse(request.body);
    if (!body.success)
      throw new ServiceError("REQUEST_INVALID", "現在のパスワードと新しいパスワードを入力してください", {});
    await changePassword(ctx, actor, body.data.current, body.data.next);
    return reply.code(204).send();
  });

  app.get("/api/v1/devices", async (request) => {
    const { session } = await guard(ctx, request, { allowMustChange: true });
    return { devices: listDevices(ctx, session.loginId) };
  });

  app.post("/api/v1/devices", async (request, reply) => {
    // The new device proves its key by signing this request itself; a registered one is not needed.
    const { actor } = await guard(ctx, request, { change: true, device: false, allowMustChange: true });
    const { device, alreadyRegistered } = await registerDevice(
      ctx,
      actor,
      request.body,
      signedRequest(request),
    );
    return reply.code(alreadyRegistered ? 200 : 201).send({ device });
  });

  // A sender's linked receivers (for the upload form); any other role has none.
  app.get("/api/v1/receivers", async (request) => {
    const { session } = await guard(ctx, request);
    const receivers =
      session.role === "sender"
        ? receiversOf(ctx, session.institution.id).filter((r) => r.status === "active")
        : [];
    return { receivers: receivers.map((r) => ({ id: r.id, name: r.name })) };
  });
}
