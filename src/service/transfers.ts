/**
 * The life of one transfer: upload (enveloped) → conversion with the sender's mapping → 送信確定 or
 * discard → download by the receiver → 受領確定 → deletion (retention.ts). Each step is a ledger entry
 * with actor, institution, certificate fingerprint, device signature and time; every refusal is one
 * too. The standard CSV is kept encrypted in the database (payload-store) and only for as long as needed;
 * the original upload is hashed, converted and not kept.
 *
 * Each state change is made together with the entries that record it (`audit(…, { stateChange })`): the
 * transfer row, its payload and its upload + conversion entries exist all or not at all, and so do a
 * status change and its entry. The state change runs inside the ledger batch's transaction and re-checks
 * the status it starts from, so two concurrent requests cannot both move the same transfer.
 */
import { createHash } from "node:crypto";
import { openEnvelope, type EnvelopeKey } from "../client/envelope.js";
import { isCodedError } from "../coded-error.js";
import { convert } from "../convert/engine.js";
import { parseMapping } from "../convert/mapping.js";
import { checkMapping } from "../convert/mapping-check.js";
import { buildReport, type ConvertReport } from "../convert/report.js";
import { loadKek } from "../crypto/data-keys.js";
import { recordsCommitment } from "../ledger/entry/records-commitment.js";
import type { RecordInput } from "../ledger/entry/operation-record.js";
import { deletePayload, readPayload, truncateWal, writePayloadNow } from "../store/payload-store.js";
import { audit, recordCommon } from "./audit.js";
import type { Actor, ServiceContext } from "./context.js";
import type { EnvelopeChannels } from "./envelope-channels.js";
import { ServiceError } from "./errors.js";
import { opaqueId } from "./ids.js";
import { receiversOf } from "./institutions.js";
import { activeMapping, type ConversionReference } from "./mappings.js";
import type { Session } from "./sessions.js";
import { verifySegment } from "./transfer-integrity.js";
import {
  addDays,
  notFound,
  toView,
  transferRow,
  visibleTransfer,
  type TransferRow,
} from "./transfer-records.js";
import type { TransferView } from "./transfer-view.js";

export interface TransferDeps {
  readonly reference: ConversionReference;
  readonly channels: EnvelopeChannels;
}

type DenialAction = Extract<RecordInput, { type: "denial" }>["action"];

/** Records a refusal, then throws it. */
async function deny(
  ctx: ServiceContext,
  actor: Actor,
  action: DenialAction,
  error: ServiceError,
  transferId?: string,
): Promise<never> {
  await audit(ctx, [
    {
      ...recordCommon(ctx, actor, "minor-failure", error.code),
      type: "denial",
      action,
      code: error.code,
      ...(transferId !== undefined ? { transfer: transferId } : {}),
    },
  ]);
  throw error;
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

export interface UploadResult {
  readonly transfer: TransferView;
  readonly report: ConvertReport;
}

/** Receives an enveloped export for one of the sender's receivers and converts it. */
export async function uploadTransfer(
  ctx: ServiceContext,
  deps: TransferDeps,
  actor: Actor,
  session: Session,
  /** body: undefined when the request carried no binary body (another content type). */
  input: { receiverId: unknown; channelId: string | undefined; body: Uint8Array | undefined },
): Promise<UploadResult> {
  if (input.body === undefined) {
    return deny(
      ctx,
      actor,
      "upload",
      new ServiceError("UPLOAD_UNUSABLE", "送信データ (application/octet-stream) がありません", {}),
    );
  }
  const body = input.body;
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
  let original: Uint8Array;
  try {
    original = await openEnvelope(key, body, { maxPlaintextBytes: limit });
  } catch (error) {
    const tooLarge = isCodedError(error) && error.code === "ENVELOPE_TOO_LARGE";
    return deny(
      ctx,
      actor,
      "upload",
      tooLarge
        ? new ServiceError(
            "UPLOAD_TOO_LARGE",
            `ファイルが大きすぎます (上限 ${Math.floor(limit / 1048576)} MB)`,
            {},
          )
        : new ServiceError("ENVELOPE_INVALID", "送信データの暗号を解けません。もう一度送信してください", {
            cause: isCodedError(error) ? error.code : "unknown",
          }),
    );
  }

  const parts: Uint8Array[] = [];
  let summary;
  try {
    const checked = checkMapping(
      parseMapping(mapping.body, "mapping"),
      deps.reference.dictionary,
      deps.reference.thesaurus,
    );
    summary = await convert([original], { write: (c) => void parts.push(c) }, { checked, encoding: "utf-8" });
  } catch (error) {
    if (!isCodedError(error)) throw error;
    return deny(
      ctx,
      actor,
      "upload",
      new ServiceError("UPLOAD_UNUSABLE", `ファイルを変換できません: ${error.message}`, {
        cause: error.code,
      }),
    );
  }
  const report = buildReport(summary, {
    mapping: { name: mapping.name, sha256: mapping.sha256 },
    dictionary: { name: deps.reference.dictionary.name, version: deps.reference.dictionary.version },
  });

  const id = opaqueId("tr", ctx.random);
  const now = ctx.now();
  const kek = await loadKek(ctx.paths.kek);
  // The transfer row (the payload's foreign key), the encrypted standard CSV and the two entries: one
  // atomic step, after which the upload is acknowledged.
  const storeTransfer = (): void => {
    ctx.db
      .prepare(
        `INSERT INTO transfers (id, sender_id, receiver_id, status, mapping_id, original_sha256, original_bytes,
          standard_sha256, standard_bytes, records, rows_rejected, report_json, created_at, delete_after)
         VALUES (?, ?, ?, 'converted', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        session.institution.id,
        receiverId,
        mapping.id,
        summary.input.sha256,
        summary.input.bytes,
        summary.output.sha256,
        summary.output.bytes,
        summary.counts.recordsOut,
        summary.counts.rowsRejected,
        JSON.stringify(report),
        now.toISOString(),
        addDays(now, ctx.config.retention.unconfirmedDays),
      );
    writePayloadNow(ctx.db, kek, { transferId: id, kind: "standard", chunks: parts, random: ctx.random });
  };
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
          records: recordsCommitment(summary.recordHashes),
          rejected: summary.counts.rowsRejected,
          mapping: { id: mapping.id, version: mapping.sha256.slice(0, 16) },
        },
        recordHashes: summary.recordHashes,
      },
    ],
    { stateChange: storeTransfer },
  );
  const row = transferRow(ctx, id);
  if (!row) throw notFound();
  return { transfer: toView(ctx, row), report };
}

/** 送信確定: makes a converted transfer visible to its receiver. */
export async function sendTransfer(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  id: string,
): Promise<TransferView> {
  const row = await partyRow(ctx, actor, session, id, "send", "sender");
  if (row.status !== "converted")
    return deny(ctx, actor, "send", stateError("送信確定できるのは変換済みの転送だけです"), id);
  await verifySegment(ctx, `transfer:${id}`, id);
  const now = ctx.now();
  const message = "送信確定できるのは変換済みの転送だけです";
  await changeState(
    ctx,
    actor,
    "send",
    message,
    id,
    [
      {
        ...recordCommon(ctx, actor, "success"),
        type: "send",
        transfer: id,
        receiver: row.receiver_id,
        file: standardRef(row),
      },
    ],
    () => {
      moveStatus(
        ctx,
        id,
        "converted",
        "UPDATE transfers SET status = 'sent', sent_at = ? WHERE id = ? AND status = 'converted'",
        now.toISOString(),
        message,
      );
      // Converted records per receiver per month (JST), which the office bills on.
      const month = new Date(now.getTime() + 9 * 3_600_000).toISOString().slice(0, 7);
      ctx.db
        .prepare(
          "INSERT INTO record_counts (receiver_id, month, records) VALUES (?, ?, ?) ON CONFLICT (receiver_id, month) DO UPDATE SET records = records + excluded.records",
        )
        .run(row.receiver_id, month, row.records ?? 0);
    },
  );
  return toView(ctx, mustRow(ctx, id));
}

/** Discards a converted transfer before sending: the payload is deleted at once. */
export async function discardTransfer(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  id: string,
): Promise<TransferView> {
  const row = await partyRow(ctx, actor, session, id, "discard", "sender");
  if (row.status !== "converted")
    return deny(ctx, actor, "discard", stateError("破棄できるのは送信確定前の転送だけです"), id);
  const message = "破棄できるのは送信確定前の転送だけです";
  const deletedAt = ctx.now().toISOString();
  await changeState(
    ctx,
    actor,
    "discard",
    message,
    id,
    [
      {
        ...recordCommon(ctx, actor, "success"),
        type: "deletion",
        transfer: id,
        reason: "cancelled",
        erased: ["payload", "data-key"],
      },
    ],
    () => {
      moveStatus(
        ctx,
        id,
        "converted",
        "UPDATE transfers SET status = 'discarded', deleted_at = ? WHERE id = ? AND status = 'converted'",
        deletedAt,
        message,
      );
      deletePayload(ctx.db, id);
    },
  );
  // Deleted inside the batch's transaction: now cut the WAL so no older page image keeps the chunks.
  truncateWal(ctx.db);
  return toView(ctx, mustRow(ctx, id));
}

/**
 * The standard CSV's exact bytes, for the receiver (checked against the recorded hash), with the
 * envelope key of the download channel (taken first, so a refused download still uses it up).
 */
export async function downloadTransfer(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  id: string,
  channel: { readonly channels: EnvelopeChannels; readonly channelId: string | undefined },
): Promise<{ readonly key: EnvelopeKey; readonly bytes: Buffer }> {
  let key: EnvelopeKey;
  try {
    key = channel.channels.take(channel.channelId, session.loginId, "download");
  } catch (error) {
    return deny(ctx, actor, "download", error as ServiceError);
  }
  const row = await partyRow(ctx, actor, session, id, "download", "receiver");
  if (!(row.status === "sent" || row.status === "downloaded" || row.status === "received")) {
    return deny(ctx, actor, "download", stateError("このファイルは削除されています"), id);
  }
  await verifySegment(ctx, `transfer:${id}`, id);
  const kek = await loadKek(ctx.paths.kek);
  const chunks: Uint8Array[] = [];
  for await (const c of readPayload(ctx.db, kek, id, "standard")) chunks.push(c);
  const bytes = Buffer.concat(chunks);
  if (sha256(bytes) !== row.standard_sha256) {
    return deny(
      ctx,
      actor,
      "integrity",
      new ServiceError(
        "INTEGRITY_FAILURE",
        "保存データのハッシュ値が記録と一致しません。事務局に連絡してください",
        {},
      ),
      id,
    );
  }
  const downloadedAt = ctx.now().toISOString();
  await audit(
    ctx,
    [
      {
        ...recordCommon(ctx, actor, "success"),
        type: "download",
        transfer: id,
        file: standardRef(row),
        format: "csv",
      },
    ],
    {
      // The first download moves "sent" on; a later one (or a concurrent one) leaves the status alone.
      stateChange: () =>
        void ctx.db
          .prepare(
            "UPDATE transfers SET status = 'downloaded', downloaded_at = ? WHERE id = ? AND status = 'sent'",
          )
          .run(downloadedAt, id),
    },
  );
  return { key, bytes };
}

/** 受領確定: the receiver confirms; the payload is deleted after the grace period. */
export async function confirmReceipt(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  id: string,
): Promise<TransferView> {
  const row = await partyRow(ctx, actor, session, id, "receipt", "receiver");
  if (row.status !== "downloaded") {
    return deny(ctx, actor, "receipt", stateError("受領確定はダウンロードの後にできます"), id);
  }
  await verifySegment(ctx, `transfer:${id}`, id);
  const now = ctx.now();
  const message = "受領確定はダウンロードの後にできます";
  await changeState(
    ctx,
    actor,
    "receipt",
    message,
    id,
    [{ ...recordCommon(ctx, actor, "success"), type: "receipt", transfer: id, file: standardRef(row) }],
    () => {
      moveStatus(
        ctx,
        id,
        "downloaded",
        "UPDATE transfers SET status = 'received', received_at = ?, delete_after = ? WHERE id = ? AND status = 'downloaded'",
        [now.toISOString(), addDays(now, ctx.config.retention.afterReceiptDays)],
        message,
      );
    },
  );
  return toView(ctx, mustRow(ctx, id));
}

function stateError(message: string): ServiceError {
  return new ServiceError("TRANSFER_STATE", message, {});
}

/**
 * Appends the entries of a status change together with the change. When the transfer has left the
 * expected status meanwhile (a concurrent request moved it), nothing is written and the refusal is
 * recorded instead.
 */
async function changeState(
  ctx: ServiceContext,
  actor: Actor,
  action: DenialAction,
  message: string,
  id: string,
  records: readonly RecordInput[],
  stateChange: () => void,
): Promise<void> {
  try {
    await audit(ctx, records, { stateChange });
  } catch (error) {
    if (error instanceof ServiceError && error.code === "TRANSFER_STATE") {
      return deny(ctx, actor, action, stateError(message), id);
    }
    throw error;
  }
}

/** Runs a status update that starts from `from`; throws TRANSFER_STATE when the row is not there. */
function moveStatus(
  ctx: ServiceContext,
  id: string,
  from: TransferRow["status"],
  sql: string,
  values: string | readonly string[],
  message: string,
): void {
  const leading = typeof values === "string" ? [values] : values;
  const changed = ctx.db.prepare(sql).run(...leading, id).changes;
  if (changed !== 1) throw new ServiceError("TRANSFER_STATE", message, { from });
}

function standardRef(row: TransferRow) {
  return { sha256: row.standard_sha256 ?? "0".repeat(64), bytes: row.standard_bytes ?? 0 };
}

function mustRow(ctx: ServiceContext, id: string): TransferRow {
  const row = transferRow(ctx, id);
  if (!row) throw notFound();
  return row;
}

/** The transfer if this session is its sender (or receiver); otherwise the recorded missing-transfer answer. */
async function partyRow(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  id: string,
  action: DenialAction,
  party: "sender" | "receiver",
): Promise<TransferRow> {
  try {
    const row = visibleTransfer(ctx, session, id);
    const holder = party === "sender" ? row.sender_id : row.receiver_id;
    if (holder !== session.institution.id) throw notFound();
    return row;
  } catch (error) {
    return deny(ctx, actor, action, error as ServiceError);
  }
}
