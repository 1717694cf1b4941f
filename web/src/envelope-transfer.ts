/**
 * Upload and download through the application-layer envelope, as src/client/transfer-client.ts does
 * for Node: agree a key for this one body (POST /api/v1/envelope-keys, ECDH P-256), seal or open, and
 * send with X-Kenshin-Envelope. A TLS-inspecting proxy on the way sees only the envelope. Both
 * directions stream: a file is sealed chunk by chunk from its File stream, a download is opened chunk by
 * chunk as it arrives.
 */
import { base64UrlDecode } from "../../src/client/device-key.js";
import {
  createEnvelopeKeyPair,
  deriveEnvelopeKey,
  exportEnvelopePublicKey,
  importEnvelopePublicKey,
  EnvelopeOpener,
  EnvelopeSealer,
  type EnvelopeKey,
  type EnvelopePurpose,
} from "../../src/client/envelope.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { pauseBeforeNextAttempt, unprocessedRefusal } from "../../src/client/refused-unprocessed.js";
import { toHex } from "../../src/ledger/verify/encoding.js";
import { ApiFailure, type Api, type TransferProgress } from "./api.js";
import { BlobSpill } from "./blob-spill.js";
import type { ConvertReport, TransferView } from "./types.js";

const ENVELOPE_HEADER = "x-kenshin-envelope";
/** Largest standard CSV the browser opens (the service's largest upload converts to less). */
const MAX_DOWNLOAD_BYTES = 8 * 1024 * 1024 * 1024;

async function agreeKey(
  api: Api,
  purpose: EnvelopePurpose,
): Promise<{ key: EnvelopeKey; channelId: string }> {
  const pair = await createEnvelopeKeyPair();
  const answer = await api.send<{ channelId: string; serverPublicKey: string; salt: string }>(
    "POST",
    "/api/v1/envelope-keys",
    { publicKey: await exportEnvelopePublicKey(pair.publicKey), purpose },
  );
  const salt = base64UrlDecode(answer.salt);
  if (salt === undefined) throw new TypeError("envelope salt is not base64url");
  const key = await deriveEnvelopeKey({
    privateKey: pair.privateKey,
    peerPublicKey: await importEnvelopePublicKey(answer.serverPublicKey),
    salt,
    purpose,
    channelId: answer.channelId,
  });
  return { key, channelId: answer.channelId };
}

/**
 * Runs a key agreement and the request that uses it, once more when the server did not know the
 * channel (409 ENVELOPE_CHANNEL_INVALID: the body was not opened), as src/client/transfer-client.ts
 * does. In a cluster the agreement and the body can reach different nodes — the one that agreed left
 * the load balancer in between (quarantine, restart), and a channel lives only in the memory of the
 * node that agreed it; `Api` has already sent the body again on the coded 503 of such a node.
 *
 * A 503 INTEGRITY_FAILURE (the node met damage to its own copy; it quarantines itself) is run again too,
 * after the same growing pauses as `Api`'s (src/client/refused-unprocessed.ts): nothing was done, but
 * the download had used up its channel, so each new attempt agrees a fresh one, reaching a healthy node.
 */
async function withFreshChannel<T>(run: () => Promise<T>): Promise<T> {
  let channelLost = false;
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const e = error instanceof ApiFailure ? error.error : undefined;
      if (e?.status === 409 && e.code === "ENVELOPE_CHANNEL_INVALID" && !channelLost) {
        channelLost = true;
        continue;
      }
      const pause = pauseBeforeNextAttempt(attempt);
      if (e === undefined || pause === undefined || unprocessedRefusal(e.status, e.code) !== "integrity") {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

export type UploadPhase = "encrypting" | "uploading" | "converting";

/** The plaintext read per step while sealing (the File stream's own pieces are re-cut to this). */
const SEAL_STEP_BYTES = 1 << 20;

/**
 * Seals and uploads an export for a receiver; the server converts it and answers with the report.
 *
 * The file is never read whole into memory: its stream is sealed chunk by chunk and the sealed pieces
 * are folded into a Blob every few MB (blob-spill.ts: the browser's blob store holds them, not the
 * page) while the SHA-256 the device signature covers is computed; then the Blob is sent with upload
 * progress. `signal` cancels at any point (sealing or
 * sending); nothing is stored by the server for a cancelled upload.
 */
export async function uploadExport(
  api: Api,
  o: {
    receiverId: string;
    file: Blob;
    onPhase: (phase: UploadPhase) => void;
    /** Progress of the current phase (plaintext sealed, then sealed bytes sent). */
    onProgress: (p: TransferProgress) => void;
    signal?: AbortSignal;
  },
): Promise<{ transfer: TransferView; report: ConvertReport | null }> {
  const r = await withFreshChannel(() => sealAndSend(api, o));
  return JSON.parse(new TextDecoder().decode(r.bytes)) as {
    transfer: TransferView;
    report: ConvertReport | null;
  };
}

/**
 * One key agreement, the file sealed under it (read again from the File: never whole in memory) and
 * the sealed body sent.
 */
async function sealAndSend(
  api: Api,
  o: Parameters<typeof uploadExport>[1],
): Promise<{ status: number; bytes: Uint8Array }> {
  o.onPhase("encrypting");
  const agreed = await agreeKey(api, "upload");
  const sealer = new EnvelopeSealer(agreed.key);
  const hash = sha256.create();
  const sealedBody = new BlobSpill("application/octet-stream");
  const add = (sealed: Uint8Array): void => {
    if (sealed.length === 0) return;
    hash.update(sealed);
    sealedBody.add(sealed);
  };
  const reader = o.file.stream().getReader();
  let read = 0;
  try {
    for (;;) {
      if (o.signal?.aborted === true) throw cancelled();
      const { done, value } = await reader.read();
      if (done) break;
      for (let at = 0; at < value.length; at += SEAL_STEP_BYTES) {
        add(await sealer.push(value.subarray(at, at + SEAL_STEP_BYTES)));
      }
      read += value.length;
      o.onProgress({ loaded: read, total: o.file.size });
    }
  } finally {
    reader.releaseLock();
  }
  add(await sealer.finish());
  const body = sealedBody.finish();
  o.onPhase("uploading");
  return api.xhr({
    method: "POST",
    path: `/api/v1/transfers?receiver=${encodeURIComponent(o.receiverId)}`,
    body,
    bodySha256Hex: toHex(hash.digest()),
    headers: { "content-type": "application/octet-stream", [ENVELOPE_HEADER]: agreed.channelId },
    ...(o.signal ? { signal: o.signal } : {}),
    onUploadProgress: (p) => {
      o.onProgress(p);
      // A body sent again (Api.xhr's retry) starts over from "uploading".
      o.onPhase(p.total !== undefined && p.loaded >= p.total ? "converting" : "uploading");
    },
  });
}

/**
 * Downloads and opens a transfer's standard CSV (exact bytes) as it arrives: each envelope chunk is
 * opened when it is complete and its plaintext goes straight to `sink` when given (a file the person
 * chose, save-target.ts; the answer is then undefined), else it is folded into a Blob every few MB
 * (blob-spill.ts), so the page never holds the sealed or the opened file in its own memory. `total` (the
 * standard CSV's size, from the transfer) drives progress. `signal` cancels at any point (CANCELLED).
 * `codeHeader`: with the JLAC10 code header row as the second line (the server puts it in).
 */
export async function downloadStandard(
  api: Api,
  transferId: string,
  onProgress: (p: TransferProgress) => void,
  o: {
    total?: number | undefined;
    signal?: AbortSignal;
    codeHeader?: boolean;
    sink?: { write(bytes: Uint8Array): Promise<void> };
  } = {},
): Promise<Blob | undefined> {
  const { agreed, body } = await withFreshChannel(async () => {
    const agreed = await agreeKey(api, "download");
    const body = await api.stream(
      `/api/v1/transfers/${encodeURIComponent(transferId)}/download${o.codeHeader === true ? "?codeHeader=1" : ""}`,
      { [ENVELOPE_HEADER]: agreed.channelId },
      o.signal,
    );
    return { agreed, body };
  });
  const opener = new EnvelopeOpener(agreed.key, { maxPlaintextBytes: MAX_DOWNLOAD_BYTES });
  const standard = o.sink ? undefined : new BlobSpill("text/csv");
  let written = 0;
  const write = async (plain: Uint8Array): Promise<void> => {
    if (plain.length === 0) return;
    written += plain.length;
    if (o.sink) await o.sink.write(plain);
    else standard?.add(plain);
  };
  const reader = body.getReader();
  try {
    for (;;) {
      if (aborted(o.signal)) throw cancelled();
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (e) {
        // An aborted fetch errors its body stream.
        if (aborted(o.signal)) throw cancelled();
        throw e;
      }
      if (next.done) break;
      const plain = await opener.push(next.value);
      if (plain.length > 0) {
        await write(plain);
        onProgress({ loaded: written, total: o.total });
      }
    }
  } catch (e) {
    // Stop the response too (a sink that failed, a bad chunk): nothing more is read.
    await reader.cancel().catch(() => undefined);
    throw e;
  } finally {
    reader.releaseLock();
  }
  await write(await opener.finish());
  onProgress({ loaded: written, total: o.total ?? written });
  return standard?.finish();
}

function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function cancelled(): ApiFailure {
  return new ApiFailure({ status: 0, code: "CANCELLED", text: "" });
}
