/**
 * The life of one transfer: upload (enveloped) → conversion with the sender's mapping → 送信確定 or
 * discard → download by the receiver → 受領確定 → deletion (retention.ts). Each step is a ledger entry
 * with actor, institution, certificate fingerprint, device signature and time; every refusal is one
 * too. The standard CSV is kept encrypted in the database (payload-store) and only for as long as needed;
 * the original upload is hashed, converted and not kept.
 *
 * Each state change is made together with the entries that record it (`audit(…, { command })`, the
 * appliers in state-commands/transfer-commands.ts): the
 * transfer row, its payload and its upload + conversion entries exist all or not at all, and so do a
 * status change and its entry. The state change runs inside the ledger batch's transaction and re-checks
 * the status it starts from, so two concurrent requests cannot both move the same transfer.
 */
import { createHash } from "node:crypto";
import type { EnvelopeKey } from "../client/envelope.js";
import { isCodedError } from "../coded-error.js";
import { parseMapping } from "../convert/mapping.js";
import { checkMapping, type CheckedMapping } from "../convert/mapping-check.js";
import { buildReport, reportMetaOf, type ConvertReport } from "../convert/report.js";
import { loadKek } from "../crypto/data-keys.js";
import { standardCsvToEcheckup, summaryHeader } from "../fhir/echeckup/echeckup-export.js";
import { withCodeHeader } from "../format/code-header-stream.js";
import { transferReferenceRanges } from "./transfer-reference-ranges.js";
import type { Dictionary } from "../format/dictionary.js";
import { recordsCommitment } from "../ledger/entry/records-commitment.js";
import type { StateCommand } from "../ledger/write-port.js";
import type { RecordInput } from "../ledger/entry/operation-record.js";
import { PayloadError, readPayload, truncateWal } from "../store/payload-store.js";
import { audit, recordCommon } from "./audit.js";
import type { Actor, ServiceContext } from "./context.js";
import type { EnvelopeChannels } from "./envelope-channels.js";
import { ServiceError } from "./errors.js";
import { opaqueId } from "./ids.js";
import { getInstitution, receiversOf } from "./institutions.js";
import { activeMapping, type ConversionReference } from "./mappings.js";
import type { Session } from "./sessions.js";
import { verifiedTransfer } from "./transfer-authority.js";
import { raiseIntegrityAlarm } from "./transfer-integrity.js";
import { recordRefusal, type DenialAction } from "./refusal-log.js";
import { convertUploadStream, type ConvertedUpload } from "./upload-stream.js";
import { startSeal } from "./seals.js";
import {
  transferCreate,
  transferDiscard,
  transferDownload,
  transferReceipt,
  transferSend,
} from "./state-commands/transfer-commands.js";
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

/** Records a refusal (rate-limited per address and ID: refusal-log.ts), then throws it. */
async function deny(
  ctx: ServiceContext,
  actor: Actor,
  action: DenialAction,
  error: ServiceError,
  transferId?: string,
): Promise<never> {
  await recordRefusal(ctx, actor, { action, code: error.code, transferId });
  throw error;
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
    await ctx.cluster?.replicatePayload({ transfer: id, kind: "standard" }, spool.sealedBlobs());
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
  // The send entry's time first, then the seal's: ledger times never go backwards within a batch.
  const sendEntry: RecordInput = {
    ...recordCommon(ctx, actor, "success"),
    type: "send",
    transfer: id,
    receiver: row.receiver_id,
    file: standardRef(row),
  };
  // The seal (JWS + RFC 3161 token) over the exact stored bytes, signed as they are read back and
  // checked against the recorded hash (the file is never held whole), made before anything changes: a
  // payload that fails the check, or a time-stamp authority that cannot answer, refuses the send and
  // leaves the transfer as it was.
  const sealing = await startSeal(ctx);
  await checkedStandard(ctx, row, (piece) => {
    sealing.update(piece);
  });
  const seal = await sealing.finish({ ...actor, device: undefined }, id);
  const now = ctx.now();
  const message = "送信確定できるのは変換済みの転送だけです";
  await changeState(
    ctx,
    actor,
    "send",
    message,
    id,
    [sendEntry, seal],
    transferSend.of({ id, receiverId: row.receiver_id, records: row.records ?? 0, at: now.toISOString() }),
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
  // As every other operation, the segment was verified (partyRow) before the deletion.
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
    transferDiscard.of({ id, at: deletedAt }),
  );
  // Deleted inside the batch's transaction: now cut the WAL so no older page image keeps the chunks.
  truncateWal(ctx.db);
  return toView(ctx, mustRow(ctx, id));
}

/**
 * The standard CSV's exact bytes, for the receiver, as a stream of decrypted chunks, with the envelope
 * key of the download channel (taken first, so a refused download still uses it up). The stored
 * payload is read twice: once to check its hash against the record (nothing is sent when it differs),
 * then again as it is sent, so the server never holds the whole file. With
 * `as: { format: "fhir-bundle" }` the checked CSV is turned into NDJSON of JP eCheckup Bundles (one
 * per examinee) and the ledger records that format; that conversion holds the CSV in memory (it is read
 * once, during the hash check). With `as: { format: "csv-code-header" }` the CSV streams with the JLAC10
 * code header row as its second line (format/code-header-stream.ts), recorded as that format.
 */
export async function downloadTransfer(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  id: string,
  channel: { readonly channels: EnvelopeChannels; readonly channelId: string | undefined },
  as?: { readonly format: "fhir-bundle" | "csv-code-header"; readonly dictionary: Dictionary },
): Promise<{
  readonly key: EnvelopeKey;
  readonly chunks: AsyncIterable<Uint8Array>;
  /** For the FHIR rendering: what the Bundles leave out (`summaryHeader`). */
  readonly summary?: string;
}> {
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
  // Only the FHIR rendering needs the whole CSV; the CSV itself streams.
  const fhirWanted = as?.format === "fhir-bundle";
  let held: Buffer | undefined;
  if (!fhirWanted) await checkedStandard(ctx, row);
  else {
    const pieces: Uint8Array[] = [];
    await checkedStandard(ctx, row, (piece) => pieces.push(piece));
    held = Buffer.concat(pieces);
  }
  const kek = await loadKek(ctx.paths.kek);
  let fhir: Buffer | undefined;
  let summary: string | undefined;
  let coded: AsyncIterable<Uint8Array> | undefined;
  if (as !== undefined) {
    try {
      if (held !== undefined) {
        const institutionName = getInstitution(ctx, row.sender_id).name;
        const out = standardCsvToEcheckup(held, as.dictionary, {
          now: ctx.now(),
          institutionName,
          referenceRanges: transferReferenceRanges(ctx, row),
        });
        fhir = Buffer.from(out.ndjson, "utf8");
        summary = summaryHeader(out);
      } else {
        // The header row is read and checked now, so a refusal comes before the ledger entry.
        coded = await withCodeHeader(readPayload(ctx.db, kek, id, "standard"), as.dictionary);
      }
    } catch (error) {
      if (!isCodedError(error)) throw error;
      return deny(
        ctx,
        actor,
        "download",
        new ServiceError("UPLOAD_UNUSABLE", error.message, { cause: error.code }),
        id,
      );
    }
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
        format: as === undefined ? "csv" : as.format,
      },
    ],
    // The first download moves "sent" on; a later one (or a concurrent one) leaves the status alone.
    { command: transferDownload.of({ id, at: downloadedAt }) },
  );
  if (fhir !== undefined)
    return { key, chunks: oneChunk(fhir), ...(summary !== undefined ? { summary } : {}) };
  return { key, chunks: coded ?? readPayload(ctx.db, kek, id, "standard") };
}

/** A finished buffer as the same async stream of chunks that payload reads give. */
function oneChunk(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]: () => {
      let done = false;
      return {
        next: () => {
          const result: IteratorResult<Uint8Array> = done
            ? { done: true, value: undefined }
            : { done: false, value: bytes };
          done = true;
          return Promise.resolve(result);
        },
      };
    },
  };
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
  const now = ctx.now();
  const message = "受領確定はダウンロードの後にできます";
  await changeState(
    ctx,
    actor,
    "receipt",
    message,
    id,
    [{ ...recordCommon(ctx, actor, "success"), type: "receipt", transfer: id, file: standardRef(row) }],
    transferReceipt.of({
      id,
      at: now.toISOString(),
      deleteAfter: addDays(now, ctx.config.retention.afterReceiptDays),
    }),
  );
  return toView(ctx, mustRow(ctx, id));
}

/**
 * Reads the stored standard CSV and checks it against the recorded hash; a chunk or data key that fails
 * authentication, or a hash that differs, is an integrity alarm (nothing is sent). Each decrypted
 * piece also goes to `onPiece` as it streams past (the seal signs them; the FHIR rendering keeps them);
 * only the hash check's verdict, after the last piece, says whether they were the recorded file.
 */
async function checkedStandard(
  ctx: ServiceContext,
  row: TransferRow,
  onPiece?: (piece: Uint8Array) => void,
): Promise<void> {
  const kek = await loadKek(ctx.paths.kek);
  const hash = createHash("sha256");
  try {
    for await (const c of readPayload(ctx.db, kek, row.id, "standard")) {
      hash.update(c);
      onPiece?.(c);
    }
  } catch (error) {
    // A chunk or data key that fails authentication (or is missing) is tampering or damage at rest.
    if (
      !(error instanceof PayloadError) ||
      (error.code !== "PAYLOAD_CORRUPT" && error.code !== "PAYLOAD_NOT_FOUND")
    )
      throw error;
    return raiseIntegrityAlarm(ctx, {
      code: error.code,
      description: `payload of ${row.id} failed authentication: ${error.code}`,
      message: "保存データの検証に失敗しました。事務局に連絡してください",
      transferId: row.id,
      cause: error,
    });
  }
  if (hash.digest("hex") !== row.standard_sha256) {
    return raiseIntegrityAlarm(ctx, {
      code: "INTEGRITY_FAILURE",
      description: `payload of ${row.id} does not match its recorded SHA-256`,
      message: "保存データのハッシュ値が記録と一致しません。事務局に連絡してください",
      transferId: row.id,
    });
  }
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
  command: StateCommand,
): Promise<void> {
  try {
    await audit(ctx, records, { command });
  } catch (error) {
    if (error instanceof ServiceError && error.code === "TRANSFER_STATE") {
      return deny(ctx, actor, action, stateError(message), id);
    }
    throw error;
  }
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
  let row: TransferRow;
  try {
    row = visibleTransfer(ctx, session, id);
    const holder = party === "sender" ? row.sender_id : row.receiver_id;
    if (holder !== session.institution.id) throw notFound();
  } catch (error) {
    return deny(ctx, actor, action, error as ServiceError);
  }
  // The row decided nothing yet: it must agree with the verified entries (who, which hashes).
  await verifiedTransfer(ctx, row);
  return row;
}
