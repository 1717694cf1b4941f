/**
 * Health, the OpenAPI document, the ledger's signed checkpoint and verifier key, and the audit trail
 * (whose reading is itself recorded).
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { listAuditEntries, MAX_AUDIT_LIMIT } from "../../service/audit/audit-log.js";
import type { ServiceContext } from "../../service/context.js";
import { ServiceError } from "../../service/errors.js";
import { servedCosignerList } from "../../service/cluster/cosigner-pins.js";
import { signingTrust } from "../../service/signing/signing-identities.js";
import { timeStatusCache } from "../../service/signing/time-status.js";
import { openApiDocument } from "../openapi.js";
import { guard } from "../request-auth.js";

const auditQuery = z
  .object({ limit: z.coerce.number().int().min(1).max(MAX_AUDIT_LIMIT).default(100) })
  .strict();

export function registerMetaRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  // T1: the clock's synchronisation and time servers, beside the plain status (cached, cheap).
  const timeStatus = timeStatusCache(ctx.config.time.servers, ctx.now);
  app.get("/api/v1/health", async () => ({ status: "ok", time: await timeStatus() }));

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

  // A cluster's pinned node witness keys and quorum (empty on a single node): pinned beside the log key
  // by the browser, so only a published (quorum-cosigned) checkpoint verifies there, as in the CLI.
  app.get("/api/v1/ledger/cosigners", (_request, reply) =>
    reply.header("content-type", "text/plain; charset=utf-8").send(servedCosignerList(ctx)),
  );

  // The certificates that anchor the seals (JWS x5c) and the RFC 3161 tokens: the service CA and, with
  // an external TSA, its CA. Not secret either: the browser pins them on first use like the verifier
  // key and checks every seal and time stamp against the pinned ones (web/src/seal-check.ts).
  app.get("/api/v1/ledger/signing-trust", () => signingTrust(ctx));

  app.get("/api/v1/audit", async (request) => {
    const { session, actor } = await guard(ctx, request);
    const q = auditQuery.safeParse(request.query);
    if (!q.success) throw new ServiceError("REQUEST_INVALID", "件数の指定が正しくありません", {});
    return listAuditEntries(ctx, session, actor, q.data.limit);
  });
}
