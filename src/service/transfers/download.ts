/**
 * The receiver downloads a sent transfer's standard CSV (enveloped), as the CSV itself, with the JLAC10
 * code header row, or as JP eCheckup Bundles.
 */
import type { EnvelopeKey } from "../../client/envelope.js";
import { isCodedError } from "../../coded-error.js";
import { loadKek } from "../../crypto/kek-file.js";
import { standardCsvToEcheckup, summaryHeader } from "../../fhir/echeckup/echeckup-export.js";
import { resultClearance } from "../../fhir/security-labels.js";
import { withCodeHeader } from "../../format/code-header-stream.js";
import type { Dictionary } from "../../format/dictionary.js";
import { readPayload } from "../../store/payload-store.js";
import { audit, recordCommon } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import type { EnvelopeChannels } from "./envelope-channels.js";
import { ServiceError } from "../errors.js";
import { getInstitution } from "../identity/institutions.js";
import type { Session } from "../identity/sessions.js";
import { transferDownload } from "../state-commands/transfer-commands.js";
import { damagedError } from "./damage.js";
import { transferReferenceRanges } from "./reference-ranges.js";
import { checkedStandard, standardRef } from "./checked-standard.js";
import { partyRow } from "./party-transfer.js";
import { deny, stateError } from "./refusal.js";

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
  const damaged = damagedError(ctx, id);
  if (damaged !== undefined) return deny(ctx, actor, "download", damaged, id);
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
          // Z4: restricted findings only for a receiver cleared for them (fhir/security-labels.ts).
          clearance: resultClearance(
            getInstitution(ctx, row.receiver_id).number,
            ctx.config.restrictedFindings.clearedReceivers,
          ),
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
    // A cluster node without a majority serves the download and keeps its entry to append later, but
    // cannot move the status (a state change): the next download once the majority is back does.
    row.status === "sent" && ctx.cluster?.hasQuorum?.() !== false
      ? { command: transferDownload.of({ id, at: downloadedAt }) }
      : {},
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
