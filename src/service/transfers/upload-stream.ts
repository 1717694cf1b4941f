/**
 * The data path of an upload, streamed: the request body is read as it arrives, each envelope chunk is
 * opened, the plaintext goes straight into the conversion engine, and the engine's output is sealed
 * into a payload spool (store/payload-spool.ts) chunk by chunk. The server holds neither the whole
 * export nor the whole standard CSV; memory is bounded by the chunk sizes (and the per-record hashes
 * the ledger needs).
 *
 * Nothing here is stored: the caller commits the spool with the transfer row, or closes it, which
 * deletes it. Errors keep their codes (ENVELOPE_…, CONVERT_… or MAP_…; UPLOAD_INTERRUPTED from bodyChunks
 * when the connection broke), so the caller can record the refusal.
 */
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { EnvelopeOpener, type EnvelopeKey } from "../../client/envelope.js";
import { convert, type ConvertSummary } from "../../convert/engine.js";
import type { CheckedMapping } from "../../convert/mapping-check.js";
import { PayloadSpool } from "../../store/payload-spool.js";
import type { ServiceContext } from "../context.js";
import { ServiceError } from "../errors.js";

export interface ConvertedUpload {
  readonly summary: ConvertSummary;
  readonly spool: PayloadSpool;
  /** SHA-256 of the body bytes as received (what the device signature covers). */
  readonly bodySha256: string;
}

/** Where spool files live: beside the service database. */
export function spoolDir(ctx: ServiceContext): string {
  return join(dirname(ctx.paths.serviceDb), "spool");
}

/**
 * Reads a body stream to its end without destroying it when the reader stops early (so a refusal can
 * still be answered on the same connection): what is left is drained and discarded. More than
 * `maxBytes` is UPLOAD_TOO_LARGE (for bodies sent without a Content-Length). `onComplete` is told when
 * the body has all arrived (the server then lifts the connection's inactivity bound while it works).
 */
export async function* bodyChunks(
  stream: Readable,
  maxBytes: number,
  /** Called once the whole body has been read. */
  onComplete?: () => void,
): AsyncGenerator<Uint8Array> {
  let bytes = 0;
  try {
    for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
      bytes += (chunk as Uint8Array).length;
      if (bytes > maxBytes) {
        throw new ServiceError(
          "UPLOAD_TOO_LARGE",
          `送信データが大きすぎます (上限 ${Math.floor(maxBytes / 1048576)} MB)`,
          {},
        );
      }
      yield chunk as Uint8Array;
    }
    onComplete?.();
  } catch (cause) {
    if (cause instanceof ServiceError) throw cause;
    throw new ServiceError(
      "UPLOAD_INTERRUPTED",
      "送信が途中で切れました。もう一度送信してください",
      {},
      { cause },
    );
  } finally {
    if (!stream.readableEnded) stream.resume();
  }
}

export async function convertUploadStream(
  ctx: ServiceContext,
  o: {
    readonly body: AsyncIterable<Uint8Array>;
    readonly key: EnvelopeKey;
    readonly checked: CheckedMapping;
    readonly transferId: string;
    readonly maxPlaintextBytes: number;
  },
): Promise<ConvertedUpload> {
  const opener = new EnvelopeOpener(o.key, { maxPlaintextBytes: o.maxPlaintextBytes });
  const bodyHash = createHash("sha256");
  async function* plaintext(): AsyncGenerator<Uint8Array> {
    for await (const piece of o.body) {
      bodyHash.update(piece);
      const opened = await opener.push(piece);
      if (opened.length > 0) yield opened;
    }
    const last = await opener.finish();
    if (last.length > 0) yield last;
  }
  const spool = new PayloadSpool({
    dir: spoolDir(ctx),
    transferId: o.transferId,
    kind: "standard",
    random: ctx.random,
  });
  try {
    const summary = await convert(
      plaintext(),
      {
        // The spool copies each chunk into its own (sealed) chunk before it returns.
        releasesChunks: true,
        write: (chunk) => {
          spool.write(chunk);
        },
      },
      { checked: o.checked, encoding: "utf-8" },
    );
    spool.finish();
    return { summary, spool, bodySha256: bodyHash.digest("hex") };
  } catch (error) {
    spool.close();
    throw error;
  }
}
