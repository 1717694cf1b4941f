/**
 * Transfers: envelope key agreement, upload (binary, enveloped), list, detail with the conversion
 * report, 送信確定, discard, download (enveloped), 受領確定, trail, look-up by hash; and the office's
 * monitoring view (metadata only).
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { Readable } from "node:stream";
import { EnvelopeSealer, type EnvelopeKey } from "../../client/envelope.js";
import type { ServiceContext } from "../../service/context.js";
import { deviceLabels } from "../../service/identity/device-management.js";
import { ServiceError } from "../../service/errors.js";
import { issueItemLabels } from "../../service/transfers/issue-labels.js";
import { monitoring } from "../../service/audit/monitoring.js";
import { checkpointTimeStamp } from "../../service/signing/time-stamps.js";
import { readTimeStatus } from "../../service/signing/time-status.js";
import {
  getTransfer,
  listTransfers,
  lookupByHash,
  refuseLookup,
  transferTrail,
  type TrailAnswer,
} from "../../service/transfers/queries.js";
import { transferRow } from "../../service/transfers/records.js";
import { discardTransfer } from "../../service/transfers/discard.js";
import { downloadTransfer } from "../../service/transfers/download.js";
import { confirmReceipt } from "../../service/transfers/receipt.js";
import { sendTransfer } from "../../service/transfers/send.js";
import { uploadTransfer, type TransferDeps } from "../../service/transfers/upload.js";
import { verifyDeviceRequest } from "../../service/identity/devices.js";
import { bodyChunks } from "../../service/transfers/upload-stream.js";
import { allowLongBody, serverIsWorking } from "../connection-limits.js";
import { guard, signedRequest } from "../request-auth.js";

export const ENVELOPE_HEADER = "x-kenshin-envelope";

const keyBody = z
  .object({ publicKey: z.string().max(200), purpose: z.enum(["upload", "download"]) })
  .strict();
const lookupBody = z.object({ sha256: z.string().max(64) }).strict();
const idParam = z.object({ id: z.string().max(64) }).strict();
const downloadQuery = z.object({ codeHeader: z.enum(["0", "1"]).optional() }).strict();
/** The response header of download-fhir that says what the Bundles leave out (`summaryHeader`). */
export const ECHECKUP_SUMMARY_HEADER = "kenshin-echeckup-summary";

function transferId(params: unknown): string {
  const r = idParam.safeParse(params);
  if (!r.success) throw new ServiceError("NOT_FOUND", "転送が見つかりません", {});
  return r.data.id;
}

/** The names of the devices that signed a trail's entries, so the UI shows names, not thumbprints. */
function withDeviceLabels(ctx: ServiceContext, trail: TrailAnswer) {
  const keyIds = trail.entries.flatMap((e) => {
    const id = (e.entry as { actor?: { device?: { keyId?: unknown } } }).actor?.device?.keyId;
    return typeof id === "string" ? [id] : [];
  });
  // The RFC 3161 token over this checkpoint's note, once the node has it, so the browser can prove each
  // entry was recorded by then (web/src/timeline-check.ts).
  const stamp = checkpointTimeStamp(ctx, trail.treeSize);
  return {
    ...trail,
    deviceLabels: deviceLabels(ctx, keyIds),
    ...(stamp !== undefined ? { checkpointTimestamp: Buffer.from(stamp.token).toString("base64") } : {}),
  };
}

function envelopeChannel(headers: Record<string, string | string[] | undefined>): string | undefined {
  const v = headers[ENVELOPE_HEADER];
  return typeof v === "string" && v.length <= 64 ? v : undefined;
}

/** Seals a payload stream into an envelope as it is read (64 KiB chunks). */
async function* sealed(key: EnvelopeKey, chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const sealer = new EnvelopeSealer(key);
  for await (const chunk of chunks) {
    const out = await sealer.push(chunk);
    if (out.length > 0) yield out;
  }
  yield await sealer.finish();
}

export function registerTransferRoutes(app: FastifyInstance, ctx: ServiceContext, deps: TransferDeps): void {
  app.post("/api/v1/envelope-keys", async (request, reply) => {
    const { session } = await guard(ctx, request, { change: true });
    const body = keyBody.safeParse(request.body);
    if (!body.success) throw new ServiceError("ENVELOPE_INVALID", "鍵交換の要求が正しくありません", {});
    return reply
      .code(201)
      .send(await deps.channels.open(session.loginId, body.data.purpose, body.data.publicKey));
  });

  // The upload route reads its body as a stream (upload-stream.ts), in its own context so that only it
  // gets the streaming parser; its size is bounded by maxUploadBytes as the envelope is opened.
  // The envelope adds 16 bytes per chunk (512 KiB for 2 GB in the default 64 KiB chunks).
  const uploadBodyLimit = ctx.config.maxUploadBytes + 1024 * 1024;
  void app.register((child, _options, done) => {
    child.removeContentTypeParser("application/octet-stream");
    child.addContentTypeParser("application/octet-stream", (request, payload, next) => {
      const declared = Number(request.headers["content-length"] ?? 0);
      if (declared > uploadBodyLimit) {
        next(
          Object.assign(new Error("body too large"), { code: "FST_ERR_CTP_BODY_TOO_LARGE", statusCode: 413 }),
        );
        return;
      }
      next(null, payload);
    });
    child.post("/api/v1/transfers", async (request, reply) => {
      const receivedAt = ctx.now().getTime();
      // The device signature covers the body, so it is checked once the body has been read.
      const { session, actor } = await guard(ctx, request, { change: true, device: false });
      // A signed-in sender's export may take longer to arrive than requestSeconds (it is converted as
      // it arrives); once it has all arrived, the server's work on it must not look like an idle client.
      const declared = Number(request.headers["content-length"] ?? 0);
      allowLongBody(request.raw, ctx.config.connections, declared > 0 ? declared : uploadBodyLimit);
      const query = request.query as Record<string, unknown>;
      const body = request.body;
      const signed = signedRequest(request);
      const result = await uploadTransfer(ctx, deps, actor, session, {
        receiverId: query["receiver"],
        channelId: envelopeChannel(request.headers),
        body:
          body instanceof Readable
            ? bodyChunks(body, uploadBodyLimit, () => {
                serverIsWorking(request.raw, reply.raw);
              })
            : undefined,
        verifyDevice: (bodySha256) =>
          verifyDeviceRequest(ctx, session.loginId, { ...signed, bodySha256Hex: bodySha256, receivedAt }),
      });
      return reply.code(201).send(result);
    });
    done();
  });

  app.get("/api/v1/transfers", async (request) => {
    const { session } = await guard(ctx, request);
    return { transfers: await listTransfers(ctx, session) };
  });

  app.get("/api/v1/transfers/:id", async (request) => {
    const { session, actor } = await guard(ctx, request);
    const detail = await getTransfer(ctx, actor, session, transferId(request.params));
    const items = (detail.report?.issues ?? []).flatMap((i) => (i.item === undefined ? [] : [i.item]));
    const mappingId = transferRow(ctx, detail.transfer.id)?.mapping_id ?? null;
    return { ...detail, itemLabels: issueItemLabels(ctx, deps.reference, mappingId, items) };
  });

  app.post("/api/v1/transfers/:id/send", async (request) => {
    const { session, actor } = await guard(ctx, request, { change: true });
    return { transfer: await sendTransfer(ctx, actor, session, transferId(request.params)) };
  });

  app.post("/api/v1/transfers/:id/discard", async (request) => {
    const { session, actor } = await guard(ctx, request, { change: true });
    return { transfer: await discardTransfer(ctx, actor, session, transferId(request.params)) };
  });

  // `?codeHeader=1`: the standard CSV with the JLAC10 code header row as its second line.
  app.post("/api/v1/transfers/:id/download", async (request, reply) => {
    const { session, actor } = await guard(ctx, request, { change: true });
    const query = downloadQuery.safeParse(request.query);
    if (!query.success) {
      throw new ServiceError("REQUEST_INVALID", "codeHeader は 1 または 0 で指定してください", {});
    }
    const { key, chunks } = await downloadTransfer(
      ctx,
      actor,
      session,
      transferId(request.params),
      { channels: deps.channels, channelId: envelopeChannel(request.headers) },
      query.data.codeHeader === "1"
        ? { format: "csv-code-header", dictionary: deps.reference.dictionary }
        : undefined,
    );
    return reply.header("content-type", "application/octet-stream").send(Readable.from(sealed(key, chunks)));
  });

  // The same results as FHIR R4: NDJSON of JP eCheckup Bundles, one per examinee, enveloped like the CSV.
  app.post("/api/v1/transfers/:id/download-fhir", async (request, reply) => {
    const { session, actor } = await guard(ctx, request, { change: true });
    const { key, chunks, summary } = await downloadTransfer(
      ctx,
      actor,
      session,
      transferId(request.params),
      { channels: deps.channels, channelId: envelopeChannel(request.headers) },
      { format: "fhir-bundle", dictionary: deps.reference.dictionary },
    );
    // What the Bundles leave out (item keys, counts, record numbers: nothing personal), beside the body.
    if (summary !== undefined) reply.header(ECHECKUP_SUMMARY_HEADER, summary);
    return reply.header("content-type", "application/octet-stream").send(Readable.from(sealed(key, chunks)));
  });

  app.post("/api/v1/transfers/:id/receipt", async (request) => {
    const { session, actor } = await guard(ctx, request, { change: true });
    return { transfer: await confirmReceipt(ctx, actor, session, transferId(request.params)) };
  });

  app.get("/api/v1/transfers/:id/trail", async (request) => {
    const { session, actor } = await guard(ctx, request);
    return withDeviceLabels(ctx, await transferTrail(ctx, actor, session, transferId(request.params)));
  });

  // POST so that hashes never appear in URLs or access logs. A read: CSRF-checked, but no device
  // signature, so the command-line verifier (`kenshin verify --url`) needs no registered device.
  app.post("/api/v1/lookup", async (request) => {
    const { session, actor } = await guard(ctx, request, { change: true, device: false });
    const body = lookupBody.safeParse(request.body);
    if (!body.success) return refuseLookup(ctx, actor);
    return withDeviceLabels(ctx, await lookupByHash(ctx, actor, session, body.data.sha256.toLowerCase()));
  });

  app.get("/api/v1/admin/monitoring", async (request) => {
    await guard(ctx, request, { role: "admin" });
    const cluster = ctx.cluster === undefined ? undefined : await ctx.cluster.monitoring();
    return {
      ...monitoring(ctx),
      time: await readTimeStatus(ctx.config.time.servers, ctx.now()),
      ...(cluster === undefined ? {} : { cluster }),
    };
  });
}
