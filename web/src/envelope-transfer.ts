/**
 * Upload and download through the application-layer envelope, as src/client/transfer-client.ts does
 * for Node: agree a key for this one body (POST /api/v1/envelope-keys, ECDH P-256), seal or open, and
 * send with X-Kenshin-Envelope. A TLS-inspecting proxy on the way sees only the envelope. Progress is
 * reported for the sealed bytes on the wire.
 */
import { base64UrlDecode } from "../../src/client/device-key.js";
import {
  createEnvelopeKeyPair,
  deriveEnvelopeKey,
  exportEnvelopePublicKey,
  importEnvelopePublicKey,
  openEnvelope,
  sealEnvelope,
  type EnvelopeKey,
  type EnvelopePurpose,
} from "../../src/client/envelope.js";
import type { Api, TransferProgress } from "./api.js";
import type { ConvertReport, TransferView } from "./types.js";

const ENVELOPE_HEADER = "x-kenshin-envelope";
/** Largest standard CSV the browser opens in memory. */
const MAX_DOWNLOAD_BYTES = 1024 * 1024 * 1024;

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

export type UploadPhase = "encrypting" | "uploading" | "converting";

/** Seals and uploads an export for a receiver; the server converts it and answers with the report. */
export async function uploadExport(
  api: Api,
  o: {
    receiverId: string;
    file: Blob;
    onPhase: (phase: UploadPhase) => void;
    onProgress: (p: TransferProgress) => void;
  },
): Promise<{ transfer: TransferView; report: ConvertReport | null }> {
  o.onPhase("encrypting");
  const agreed = await agreeKey(api, "upload");
  const sealed = await sealEnvelope(agreed.key, new Uint8Array(await o.file.arrayBuffer()));
  o.onPhase("uploading");
  const r = await api.xhr({
    method: "POST",
    path: `/api/v1/transfers?receiver=${encodeURIComponent(o.receiverId)}`,
    body: sealed,
    headers: { "content-type": "application/octet-stream", [ENVELOPE_HEADER]: agreed.channelId },
    onUploadProgress: (p) => {
      o.onProgress(p);
      if (p.total !== undefined && p.loaded >= p.total) o.onPhase("converting");
    },
  });
  return JSON.parse(new TextDecoder().decode(r.bytes)) as {
    transfer: TransferView;
    report: ConvertReport | null;
  };
}

/** Downloads and opens a transfer's standard CSV (exact bytes). */
export async function downloadStandard(
  api: Api,
  transferId: string,
  onProgress: (p: TransferProgress) => void,
): Promise<Uint8Array> {
  const agreed = await agreeKey(api, "download");
  const r = await api.xhr({
    method: "POST",
    path: `/api/v1/transfers/${encodeURIComponent(transferId)}/download`,
    headers: { [ENVELOPE_HEADER]: agreed.channelId },
    onDownloadProgress: onProgress,
  });
  return openEnvelope(agreed.key, r.bytes, { maxPlaintextBytes: MAX_DOWNLOAD_BYTES });
}
