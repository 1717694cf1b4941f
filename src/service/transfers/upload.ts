/**
 * The first step of a transfer's life: upload (enveloped) → conversion with the sender's mapping. The
 * steps after it each have their file here: send.ts (送信確定 with its seal) or discard.ts, download.ts
 * by the receiver, receipt.ts (受領確定); deletion at retention is retention.ts. Each step is a ledger
 * entry with actor, institution, certificate fingerprint, device signature and time; every refusal is
 * one too (refusal.ts). The standard CSV is kept encrypted in the database (payload-store) and only for
 * as long as needed; the original upload is hashed, converted and not kept.
 */
import { replicatedPayload } from "../cluster/cluster-hooks.js";
import type { EnvelopeKey } from "../../client/envelope.js";
import { isCodedError } from "../../coded-error.js";
import { parseMapping } from "../../convert/mapping.js";
import { checkMapping, type CheckedMapping } from "../../convert/mapping-check.js";
import { buildReport, reportMetaOf, type ConvertReport } from "../../convert/report.js";
import { loadKek } from "../../crypto/kek-file.js";
import { recordsCommitment } from "../../ledger/entry/records-commitment.js";
import { recordCommon } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import type { EnvelopeChannels } from "./envelope-channels.js";
import { ServiceError } from "../errors.js";
import { opaqueId } from "../ids.js";
import { receiversOf } from "../identity/institutions.js";
import { activeMapping, type ConversionReference } from "../mappings/mappings.js";
import type { Session } from "../identity/sessions.js";
import { transferCreate } from "../state-commands/transfer-commands.js";
import { addDays, notFound, toView, transferRow } from "./records.js";
import type { TransferView } from "./view.js";
import { releaseMemoryAfter } from "./release-memory.js";
import { convertUploadStream, type ConvertedUpload } from "./upload-stream.js";
import { deny } from "./refusal.js";

/** What the upload (and the transfer routes) need besides the service context. */
export interface TransferDeps {
  readonly reference: ConversionReference;
  readonly channels: EnvelopeChannels;
}

/** The refusal recorded for an upload whose body could not be opened or converted. */
function uploadRefusal(error: { code: string; message: string }, limit: number): ServiceError {
  if (error.code === "ENVELOPE_TOO_LARGE") {
    return new ServiceError(
      "UPLOAD_TOO_LARGE",
      `ファイルが大きすぎます (上限 ${Math.floor(limit / 1048576)} MB)`,
      {},
    );
  }
  if (error.code.startsWith("ENVELOPE_")) {
    return new ServiceError("ENVELOPE_INVALID", "送信データの暗号を解けません。もう一度送信してください", {
      cause: error.code,
    });
  }
  if (error instanceof ServiceError) return error;
  return new ServiceError("UPLOAD_UNUSABLE", `ファイルを変換できません: ${error.message}`, {
    cause: error.code,
  });
}

export interface UploadResult {
  readonly transfer: TransferView;
  readonly report: ConvertReport;
}

/**
 * Receives an enveloped export for one of the sender's receivers and converts it as it arrives
 * (upload-stream.ts). The device signature covers the body's SHA-256, so it is checked once the body has
 * been read, before anything is stored; a refusal at any point stores nothing and records a denial.
 */
export async function uploadTransfer(
  ctx: ServiceContext,
  deps: TransferDeps,
  requestActor: Actor,
  session: Session,
  input: {
    receiverId: unknown;
    channelId: string | undefined;
    /** The request body as it arrives; undefined when the request carried no binary body. */
    body: AsyncIterable<Uint8Array> | undefined;
    /** Verifies the device signature against the body's SHA-256 (throws a ServiceError). */
    verifyDevice: (bodySha256: string) => Promise<Actor["device"]>;
  },
): Promise<UploadResult> {
  let actor = requestActor;
  if (input.body === undefined) {
    return deny(
      ctx,
      actor,
      "upload",
      new ServiceError("UPLOAD_UNUSABLE", "送信データ (application/octet-stream) がありません", {}),
    );
  }
  if (session.role !== "sender") {
    return deny(
      ctx,
      actor,
      "upload",
      new ServiceError("AUTH_FORBIDDEN", "送信できるのは健診機関の利用者IDだけです", {}),
    );
  }
  const receiverId = typeof input.receiverId === "string" ? input.receiverId : "";
  if (!receiversOf(ctx, session.institution.id).some((r) => r.id === receiverId)) {
    return deny(
      ctx,
      actor,
      "upload",
      new ServiceError("RECEIVER_NOT_LINKED", "この送信先は登録されていません", {}),
    );
  }
  const mapping = activeMapping(ctx, session.institution.id);
  if (!mapping)
    return deny(
      ctx,
      actor,
      "upload",
      new ServiceError("MAPPING_REQUIRED", "マッピングファイルが登録されていません", {}),
    );
  let key: EnvelopeKey;
  try {
    key = deps.channels.take(input.channelId, session.loginId, "upload");
  } catch (error) {
    return deny(ctx, actor, "upload", error as ServiceError);
  }
  const limit = ctx.config.maxUploadBytes;
  const id = opaqueId("tr", ctx.random);
  let converted: ConvertedUpload;
  let checked: CheckedMapping;
  try {
    checked = checkMapping(
      parseMapping(mapping.body, "mapping"),
      deps.reference.dictionary,
      deps.reference.thesaurus,
    );
    converted = await convertUploadStream(ctx, {
      body: input.body,
      key,
      checked,
      transferId: id,
      maxPlaintextBytes: limit,
    });
  } catch (error) {
    if (!isCodedError(error)) throw error;
    return deny(ctx, actor, "upload", uploadRefusal(error, limit));
  }
  const { summary, spool } = converted;
  // The conversion's key table and the body's pieces are garbage now: freed before SQLite's caches
  // fill with the payload and the record hashes (release-memory.ts).
  releaseMemoryAfter(summary.input.bytes);
  try {
    actor = { ...actor, device: await input.verifyDevice(converted.bodySha256) };
  } catch (error) {
    spool.close();
    return deny(ctx, actor, "upload", error as ServiceError);
  }
  const report = buildReport(summary, reportMetaOf(checked, mapping.sha256));

  const now = ctx.now();
  try {
    const kek = await loadKek(ctx.paths.kek);
    // The transfer row (the payload's foreign key), the encrypted standard CSV and the two entries: one
    // atomic step, after which the upload is acknowledged. The batch's service.db transaction is
    // IMMEDIATE, so the write lock is taken before the KEK wraps the data key (see payload-store.ts).
    // In a cluster: the sealed payload on a majority of online nodes before anything is acknowledged
    // (CLUSTER_NO_QUORUM, a 503, otherwise; the spool is then dropped and nothing is stored).
    // The wrapped data key goes in the payload's manifest, which is deleted with the payload on every
    // node; never in the command, which every node archives for good (cluster_batches).
    const replicated =
      ctx.cluster === undefined
        ? undefined
        : await ctx.cluster.replicatePayload(
            { transfer: id, kind: "standard", key: spool.wrappedKey(kek) },
            spool.sealedBlobs(),
          );
    ctx.payloads.stage(id, (db) => spool.commit(db, kek));
    const create = transferCreate.of({
      id,
      senderId: session.institution.id,
      receiverId,
      mappingId: mapping.id,
      original: { sha256: summary.input.sha256, bytes: summary.input.bytes },
      standard: { sha256: summary.output.sha256, bytes: summary.output.bytes },
      records: summary.counts.recordsOut,
      rowsRejected: summary.counts.rowsRejected,
      reportJson: JSON.stringify(report),
      at: now.toISOString(),
      deleteAfter: addDays(now, ctx.config.retention.unconfirmedDays),
      // In a cluster every node stores the payload from the replicated blobs this names.
      ...(replicated !== undefined ? { payload: replicatedPayload(replicated.reference, kek.id) } : {}),
    });
    const common = recordCommon(ctx, actor, "success");
    await ctx.ledger.append(
      [
        {
          record: {
            ...common,
            type: "upload",
            transfer: id,
            receiver: receiverId,
            file: { sha256: summary.input.sha256, bytes: summary.input.bytes },
          },
        },
        {
          record: {
            ...common,
            type: "conversion",
            transfer: id,
            input: { sha256: summary.input.sha256, bytes: summary.input.bytes },
            output: { sha256: summary.output.sha256, bytes: summary.output.bytes },
            records: recordsCommitment(summary.recordDigests),
            rejected: summary.counts.rowsRejected,
            mapping: { id: mapping.id, version: mapping.sha256.slice(0, 16) },
          },
          recordHashes: summary.recordDigests,
        },
      ],
      { command: create },
    );
  } finally {
    ctx.payloads.release(id);
    spool.close();
  }
  const row = transferRow(ctx, id);
  if (!row) throw notFound();
  return { transfer: toView(ctx, row), report };
}
