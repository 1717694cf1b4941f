/**
 * Uploading and downloading through the application-layer envelope, on top of the API client: agree a
 * key for this one body (POST /api/v1/envelope-keys), seal or open, and send. A TLS-inspecting proxy
 * on the way sees only the envelope.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  EnvelopeOpener,
  EnvelopeSealer,
  createEnvelopeKeyPair,
  deriveEnvelopeKey,
  exportEnvelopePublicKey,
  importEnvelopePublicKey,
  openEnvelope,
  sealEnvelope,
  type EnvelopeKey,
  type EnvelopePurpose,
} from "./envelope.js";
import { errorCode, type ApiClient, type ApiResponse } from "./api-client.js";

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
  return withFreshChannel(async () => {
    const agreed = await agreeEnvelopeKey(client, "upload");
    if ("refused" in agreed) return agreed.refused;
    const sealed = await sealEnvelope(agreed.key, bytes);
    return client.request("POST", `/api/v1/transfers?receiver=${encodeURIComponent(receiverId)}`, {
      body: sealed,
      contentType: "application/octet-stream",
      headers: { [ENVELOPE_HEADER]: agreed.channelId },
    });
  });
}

/**
 * Runs a key agreement and the request that uses it, once more when the server did not know the
 * channel (409 ENVELOPE_CHANNEL_INVALID: the body was not opened). In a cluster the agreement and the
 * body can reach different nodes — the one that agreed left the load balancer in between (quarantine,
 * restart) — and a channel lives only in the memory of the node that agreed it.
 */
async function withFreshChannel(send: () => Promise<ApiResponse>): Promise<ApiResponse> {
  const first = await send();
  if (first.status !== 409 || errorCode(first) !== "ENVELOPE_CHANNEL_INVALID") return first;
  return send();
}

/**
 * Uploads an export of any size without holding it in memory: the file is sealed chunk by chunk into a
 * temporary file (ciphertext only, removed afterwards) while its SHA-256 is computed for the device
 * signature, then sent as a stream.
 */
export async function uploadExportFile(
  client: ApiClient,
  receiverId: string,
  path: string,
  o: { readonly tmpDir?: string } = {},
): Promise<ApiResponse> {
  const agreed = await agreeEnvelopeKey(client, "upload");
  if ("refused" in agreed) return agreed.refused;
  const dir = await mkdtemp(join(o.tmpDir ?? tmpdir(), "kenshin-upload-"));
  const sealedPath = join(dir, "body.kxe");
  try {
    const hash = createHash("sha256");
    let length = 0;
    const out = await open(sealedPath, "wx", 0o600);
    try {
      const sealer = new EnvelopeSealer(agreed.key);
      const emit = async (bytes: Uint8Array): Promise<void> => {
        hash.update(bytes);
        length += bytes.length;
        await out.write(bytes);
      };
      for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
        await emit(await sealer.push(chunk as Buffer));
      }
      await emit(await sealer.finish());
    } finally {
      await out.close();
    }
    return await client.request("POST", `/api/v1/transfers?receiver=${encodeURIComponent(receiverId)}`, {
      stream: {
        sha256Hex: hash.digest("hex"),
        length,
        chunks: () => createReadStream(sealedPath, { highWaterMark: 1 << 20 }),
      },
      contentType: "application/octet-stream",
      headers: { [ENVELOPE_HEADER]: agreed.channelId },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Downloads a transfer's standard CSV (exact bytes) or the refusal. `codeHeader`: with the JLAC10 code
 * header row as the second line (the records, and so their hashes, are unchanged).
 */
export async function downloadStandard(
  client: ApiClient,
  transferId: string,
  options: { readonly codeHeader?: boolean } = {},
): Promise<{ bytes: Uint8Array; response: ApiResponse } | { refused: ApiResponse }> {
  return downloadAs(client, transferId, options.codeHeader === true ? "download?codeHeader=1" : "download");
}

/** Downloads a transfer's results as NDJSON of JP eCheckup FHIR Bundles (one per examinee). */
export async function downloadEcheckup(
  client: ApiClient,
  transferId: string,
): Promise<{ bytes: Uint8Array; response: ApiResponse } | { refused: ApiResponse }> {
  return downloadAs(client, transferId, "download-fhir");
}

async function downloadAs(
  client: ApiClient,
  transferId: string,
  action: "download" | "download?codeHeader=1" | "download-fhir",
): Promise<{ bytes: Uint8Array; response: ApiResponse } | { refused: ApiResponse }> {
  let key: EnvelopeKey | undefined;
  const r = await withFreshChannel(async () => {
    const agreed = await agreeEnvelopeKey(client, "download");
    if ("refused" in agreed) return agreed.refused;
    key = agreed.key;
    return client.request("POST", `/api/v1/transfers/${encodeURIComponent(transferId)}/${action}`, {
      headers: { [ENVELOPE_HEADER]: agreed.channelId },
    });
  });
  if (r.status !== 200 || key === undefined) return { refused: r };
  return {
    bytes: await openEnvelope(key, r.bytes, { maxPlaintextBytes: 2 * 1024 * 1024 * 1024 }),
    response: r,
  };
}

/**
 * Downloads a transfer's standard CSV of any size: each envelope chunk is opened as it arrives and its
 * plaintext handed to `write`. Returns the bytes written, or the refusal.
 */
export async function downloadStandardTo(
  client: ApiClient,
  transferId: string,
  write: (plaintext: Uint8Array) => Promise<void> | void,
): Promise<{ bytes: number } | { refused: ApiResponse }> {
  const agreed = await agreeEnvelopeKey(client, "download");
  if ("refused" in agreed) return agreed;
  const path = `/api/v1/transfers/${encodeURIComponent(transferId)}/download`;
  const r = await client.requestStream("POST", path, { headers: { [ENVELOPE_HEADER]: agreed.channelId } });
  if (r.status !== 200) {
    const chunks: Uint8Array[] = [];
    for await (const c of r.body) chunks.push(c);
    const raw = Buffer.concat(chunks);
    const text = raw.toString("utf8");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { refused: { status: r.status, headers: r.headers, json, text, bytes: raw } };
  }
  const opener = new EnvelopeOpener(agreed.key, { maxPlaintextBytes: 8 * 1024 * 1024 * 1024 });
  let bytes = 0;
  for await (const c of r.body) {
    const plain = await opener.push(c);
    bytes += plain.length;
    if (plain.length > 0) await write(plain);
  }
  const last = await opener.finish();
  bytes += last.length;
  if (last.length > 0) await write(last);
  return { bytes };
}
