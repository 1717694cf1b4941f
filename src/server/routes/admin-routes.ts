/**
 * The office's (事務局) tools: institutions, IDs, certificates, mappings, links, the inventory report.
 * The office sees metadata only: names, IDs, statuses, counts, codes and hashes — never results.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import {
  disableInstitution,
  inventoryCsv,
  issueAccount,
  resetPassword,
} from "../../service/identity/accounts.js";
import {
  issueCertificate,
  listCertificates,
  revokeCertificates,
} from "../../service/identity/certificates.js";
import type { ServiceContext } from "../../service/context.js";
import { ServiceError } from "../../service/errors.js";
import { institutionOverview } from "../../service/identity/institution-overview.js";
import { createInstitution, linkInstitutions } from "../../service/identity/institutions.js";
import { registerMapping, type ConversionReference } from "../../service/mappings/mappings.js";
import { guard, sendCsv } from "../request-auth.js";

const idParam = z.object({ id: z.string().regex(/^[a-z]+_[a-z2-7]{16}$/) }).strict();
const serialParam = z.object({ serial: z.string().regex(/^[0-9a-f]{2,64}$/) }).strict();
const loginParam = z.object({ loginId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{2,31}$/) }).strict();
const mappingBody = z
  .object({ mapping: z.string().min(1).max(1_000_000), sample: z.string().max(20_000_000).optional() })
  .strict();
const revokeBody = z.object({ reason: z.string().trim().min(1).max(200) }).strict();
const linkBody = z.object({ senderId: z.string().max(64), receiverId: z.string().max(64) }).strict();

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success)
    throw new ServiceError(
      what === "path" ? "NOT_FOUND" : "REQUEST_INVALID",
      what === "path" ? "見つかりません" : `${what}が正しくありません`,
      {},
    );
  return r.data;
}

export function registerAdminRoutes(
  app: FastifyInstance,
  ctx: ServiceContext,
  reference: ConversionReference,
): void {
  const admin = { role: "admin" as const };
  const change = { role: "admin" as const, change: true };

  app.get("/api/v1/admin/institutions", async (request) => {
    await guard(ctx, request, admin);
    return { institutions: institutionOverview(ctx) };
  });

  app.post("/api/v1/admin/institutions", async (request, reply) => {
    const { actor } = await guard(ctx, request, change);
    return reply.code(201).send(await createInstitution(ctx, actor, request.body));
  });

  app.post("/api/v1/admin/institutions/:id/mapping", async (request, reply) => {
    const { actor } = await guard(ctx, request, change);
    const { id } = parse(idParam, request.params, "path");
    const body = parse(mappingBody, request.body, "マッピングファイル");
    const sample = body.sample === undefined ? undefined : Buffer.from(body.sample, "base64");
    return reply.code(201).send(await registerMapping(ctx, actor, reference, id, body.mapping, sample));
  });

  app.post("/api/v1/admin/institutions/:id/account", async (request, reply) => {
    const { actor } = await guard(ctx, request, change);
    const { id } = parse(idParam, request.params, "path");
    return reply.code(201).send(await issueAccount(ctx, actor, id));
  });

  app.post("/api/v1/admin/institutions/:id/certificates", async (request, reply) => {
    const { actor } = await guard(ctx, request, change);
    const { id } = parse(idParam, request.params, "path");
    const issued = await issueCertificate(ctx, actor, id, { writeFiles: false });
    return reply.code(201).send({
      serial: issued.serial,
      loginId: issued.loginId,
      fingerprint: issued.fingerprint,
      notAfter: issued.notAfter,
      certPem: issued.certPem,
      keyPem: issued.keyPem,
      pkcs12: issued.pkcs12.toString("base64"),
      pkcs12Password: issued.pkcs12Password,
    });
  });

  app.post("/api/v1/admin/institutions/:id/disable", async (request) => {
    const { actor } = await guard(ctx, request, change);
    const { id } = parse(idParam, request.params, "path");
    return disableInstitution(ctx, actor, id);
  });

  app.get("/api/v1/admin/certificates", async (request) => {
    await guard(ctx, request, admin);
    return { certificates: listCertificates(ctx) };
  });

  app.post("/api/v1/admin/certificates/:serial/revoke", async (request, reply) => {
    const { actor } = await guard(ctx, request, change);
    const { serial } = parse(serialParam, request.params, "path");
    const { reason } = parse(revokeBody, request.body, "失効の理由");
    await revokeCertificates(ctx, actor, [serial], reason);
    return reply.code(204).send();
  });

  app.post("/api/v1/admin/accounts/:loginId/password-reset", async (request, reply) => {
    const { actor } = await guard(ctx, request, change);
    const { loginId } = parse(loginParam, request.params, "path");
    return reply.code(201).send(await resetPassword(ctx, actor, loginId, request.body));
  });

  app.post("/api/v1/admin/links", async (request, reply) => {
    const { actor } = await guard(ctx, request, change);
    const body = parse(linkBody, request.body, "送受信の組み合わせ");
    await linkInstitutions(ctx, actor, body.senderId, body.receiverId);
    return reply.code(204).send();
  });

  app.get("/api/v1/admin/inventory.csv", async (request, reply) => {
    await guard(ctx, request, admin);
    return sendCsv(reply, "inventory.csv", inventoryCsv(ctx));
  });
}
