/**
 * The office's mapping editor API: check a draft (with an optional sample: counts and issue codes
 * only), suggest a draft from a sample, list every kept version of an institution's mapping, read one
 * (for the diff), save a new version and activate a kept one (both ledger entries).
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { ServiceContext } from "../../service/context.js";
import { ServiceError } from "../../service/errors.js";
import type { ConversionReference } from "../../service/mappings/mappings.js";
import {
  activateMappingVersion,
  checkMappingDraft,
  listMappingVersions,
  mappingVersionText,
  saveMappingVersion,
  suggestMappingDraft,
} from "../../service/mappings/mapping-versions.js";
import { guard } from "../request-auth.js";

const ID = /^[a-z]+_[a-z2-7]{16}$/;
const institutionParam = z.object({ id: z.string().regex(ID) }).strict();
const versionParam = z.object({ id: z.string().regex(ID), mappingId: z.string().regex(ID) }).strict();
const checkBody = z
  .object({ mapping: z.string().min(1).max(1_000_000), sample: z.string().max(20_000_000).optional() })
  .strict();
const suggestBody = z
  .object({ sample: z.string().min(1).max(20_000_000), name: z.string().min(1).max(200) })
  .strict();
const saveBody = z.object({ mapping: z.string().min(1).max(1_000_000), activate: z.boolean() }).strict();

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new ServiceError(
      what === "path" ? "NOT_FOUND" : "REQUEST_INVALID",
      what === "path" ? "見つかりません" : `${what}が正しくありません`,
      {},
    );
  }
  return r.data;
}

export function registerMappingRoutes(
  app: FastifyInstance,
  ctx: ServiceContext,
  reference: ConversionReference,
): void {
  const admin = { role: "admin" as const };
  const change = { role: "admin" as const, change: true };

  app.post("/api/v1/admin/mappings/check", async (request) => {
    await guard(ctx, request, change);
    const body = parse(checkBody, request.body, "マッピングファイル");
    const sample = body.sample === undefined ? undefined : Buffer.from(body.sample, "base64");
    return { check: await checkMappingDraft(reference, body.mapping, sample) };
  });

  app.post("/api/v1/admin/mappings/suggest", async (request) => {
    await guard(ctx, request, change);
    const body = parse(suggestBody, request.body, "見本ファイル");
    return { draft: suggestMappingDraft(reference, Buffer.from(body.sample, "base64"), body.name) };
  });

  app.get("/api/v1/admin/institutions/:id/mappings", async (request) => {
    await guard(ctx, request, admin);
    const { id } = parse(institutionParam, request.params, "path");
    return { versions: listMappingVersions(ctx, id) };
  });

  app.get("/api/v1/admin/institutions/:id/mappings/:mappingId", async (request) => {
    await guard(ctx, request, admin);
    const { id, mappingId } = parse(versionParam, request.params, "path");
    return { version: mappingVersionText(ctx, id, mappingId) };
  });

  app.post("/api/v1/admin/institutions/:id/mappings", async (request, reply) => {
    const { actor } = await guard(ctx, request, change);
    const { id } = parse(institutionParam, request.params, "path");
    const body = parse(saveBody, request.body, "マッピングファイル");
    return reply
      .code(201)
      .send({ version: await saveMappingVersion(ctx, actor, reference, id, body.mapping, body.activate) });
  });

  app.post("/api/v1/admin/institutions/:id/mappings/:mappingId/activate", async (request) => {
    const { actor } = await guard(ctx, request, change);
    const { id, mappingId } = parse(versionParam, request.params, "path");
    return { version: await activateMappingVersion(ctx, actor, reference, id, mappingId) };
  });
}
