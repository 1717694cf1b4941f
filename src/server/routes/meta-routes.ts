/**
 * Health, the OpenAPI document, the ledger's signed checkpoint and verifier key, and the audit trail
 * (whose reading is itself recorded).
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { audit, recordCommon } from "../../service/audit.js";
import type { ServiceContext } from "../../service/context.js";
import { ServiceError } from "../../service/errors.js";
import { signingTrust } from "../../service/signing-identities.js";
import { timeStatusCache } from "../../service/time-status.js";
import { openApiDocument } from "../openapi.js";
import { guard } from "../request-auth.js";

const auditQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }).strict();

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
    reply.header("content-type", "text/plain; charset=utf-8").send(`${ctx.signer.verifierKey}\n`),
  );

  // The certificates that anchor the seals (JWS x5c) and the RFC 3161 tokens: the service CA and, with
  // an external TSA, its CA. Not secret either: the browser pins them on first use like the verifier
  // key and checks every seal and time stamp against the pinned ones (web/src/seal-check.ts).
  app.get("/api/v1/ledger/signing-trust", () => signingTrust(ctx));

  app.get("/api/v1/audit", async (request) => {
    const { session, actor } = await guard(ctx, request);
    const q = auditQuery.safeParse(request.query);
    if (!q.success) throw new ServiceError("REQUEST_INVALID", "件数の指定が正しくありません", {});
    const size = ctx.ledger.storage.size();
    const entries: { index: number; entry: unknown }[] = [];
    const decoder = new TextDecoder();
    // Newest first; entries hold identifiers and hashes only, so the office may read all of them.
    for (let i = size - 1; i >= 0 && entries.length < q.data.limit; i--) {
      const entry = JSON.parse(decoder.decode(ctx.ledger.entry(i))) as { institution?: string };
      if (session.role === "admin" || entry.institution === session.institution.id)
        entries.push({ index: i, entry });
    }
    await audit(ctx, [
      { ...recordCommon(ctx, actor, "success"), type: "audit-query", query: `latest ${q.data.limit}` },
    ]);
    return { treeSize: size, entries };
  });
}
