/**
 * Uploading and downloading through the application-layer envelope, on top of the API client: agree a
 * key for this one body (POST /api/v1/envelope-keys), seal or open, and send. A TLS-inspecting proxy
 * on the way sees only the envelope.
 */
import {
  createEnvelopeKeyPair,
  deriveEnvelopeKey,
  exportEnvelopePublicKey,
  importEnvelopePublicKey,
  openEnvelope,
  sealEnvelope,
  type EnvelopeKey,
  type EnvelopePurpose,
} from "./envelope.js";
import type { ApiClient, ApiResponse } from "./api-client.js";

const ENVELOPE_HEADER = "x-kenshin-envelope";

/** Agrees an envelope key with the server; undefined (with the response) when the server refused. */
export async function agreeEnvelopeKey(
  client: ApiClient,
  purpose: EnvelopePurpose,
): Promise<{ key: EnvelopeKey; channelId: string } | { refused: ApiResponse }> {
  const pair = await createEnvelopeKeyPair();
  const r = await client.post("/api/v1/envelope-keys", {
    publicKey: await exportEnvelopePublicKey(pair.publicKey),
    purpose,
  });
  if (r.status !== 201) return { refused: r };
  const body = r.json as { channelId: string; serverPublicKey: string; salt: string };
  const key = await deriveEnvelopeKey({
    privateKey: pair.privateKey,
    peerPublicKey: await importEnvelopePublicKey(body.serverPublicKey),
    salt: new Uint8Array(Buffer.from(body.salt, "base64url")),
    purpose,
    channelId: body.channelId,
  });
  return { key, channelId: body.channelId };
}

/** Uploads an export for a receiver; the server converts it and answers with the report. */
export async function uploadExport(
  client: ApiClient,
  receiverId: string,
  bytes: Uint8Array,
): Promise<ApiResponse> {
  const agreed = await agreeEnvelopeKey(client, "upload");
  if ("refused" in agreed) return agreed.refused;
  const sealed = await sealEnvelope(agreed.key, bytes);
  return client.request("POST", `/api/v1/transfers?receiver=${encodeURIComponent(receiverId)}`, {
    body: sealed,
    contentType: "application/octet-stream",
    headers: { [ENVELOPE_HEADER]: agreed.channelId },
  });
}

/** Downloads a transfer's standard CSV (exact bytes) or the refusal. */
export async function downloadStandard(
  client: ApiClient,
  transferId: string,
): Promise<{ bytes: Uint8Array; response: ApiResponse } | { refused: ApiResponse }> {
  const agreed = await agreeEnvelopeKey(client, "download");
  if ("refused" in agreed) return agreed;
  const r = await client.request("POST", `/api/v1/transfers/${encodeURIComponent(transferId)}/download`, {
    headers: { [ENVELOPE_HEADER]: agreed.channelId },
  });
  if (r.status !== 200) return { refused: r };
  return {
    bytes: await openEnvelope(agreed.key, r.bytes, { maxPlaintextBytes: 2 * 1024 * 1024 * 1024 }),
    response: r,
  };
}
