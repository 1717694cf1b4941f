/**
 * Health, the OpenAPI document, the ledger's signed checkpoint and verifier key, and the audit trail
 * (whose reading is itself recorded).
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { listAuditEntries, MAX_AUDIT_LIMIT } from "../../service/audit-log.js";
import type { ServiceContext } from "../../service/context.js";
import { ServiceError } from "../../service/errors.js";
import { openApiDocument } from "../openapi.js";
import { guard } from "../request-auth.js";

const auditQuery = z
  .object({ limit: z.coerce.number().int().min(1).max(MAX_AUDIT_LIMIT).default(100) })
  .strict();

export function registerMetaRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app.get("/api/v1/health", () => ({ status: "ok" }));

  app.get("/api/v1/openapi.json", () => openApiDocument());

  app.get("/api/v1/ledger/checkpoint", async (request, reply) => {
    await guard(ctx, request, { allowMustChange: true });
    return reply.header("content-type", "text/plain; charset=utf-8").send(ctx.ledger.latestCheckpoint().note);
  });

  // The key that verifies the checkpoints. Not a secret: the browser pins it on first use (and warns
  // when it changes), so a later answer signed by another key is not believed.
  app.get("/api/v1/ledger/verifier-key", (_request, reply) =>
    reply.header("content-type", "text/plain; charset=utf-8").send(`${ctx.verifierKey}\n`),
  );

  app.get("/api/v1/audit", async (request) => {
    const { session, actor } = await guard(ctx, request);
    const q = auditQuery.safeParse(request.query);
    if (!q.success) throw new ServiceError("REQUEST_INVALID", "件数の指定が正しくありません", {});
    return listAuditEntries(ctx, session, actor, q.data.limit);
  });
}
