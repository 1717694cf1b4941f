/**
 * Uploading and downloading through the application-layer envelope, on top of the API client: agree a
 * key for this one body (POST /api/v1/envelope-keys), seal or open, and send. A TLS-inspecting proxy
 * on the way sees only the envelope.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, open, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
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
import { errorCode, readAnswer, type ApiClient, type ApiResponse } from "./api-client.js";

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
  }, itself);
}

/** The answer is its own refusal (a send that returns the node's answer as it is). */
const itself = (answer: ApiResponse): ApiResponse => answer;

/**
 * Runs a key agreement and the request that uses it, once more when the server did not know the
 * channel (409 ENVELOPE_CHANNEL_INVALID: the body was not opened). In a cluster the agreement and the
 * body can reach different nodes — the one that agreed left the load balancer in between (quarantine,
 * restart) — and a channel lives only in the memory of the node that agreed it.
 */
async function withFreshChannel<T>(
  send: () => Promise<T>,
  refusal: (result: T) => ApiResponse | undefined,
): Promise<T> {
  const first = await send();
  const refused = refusal(first);
  if (refused?.status !== 409 || errorCode(refused) !== "ENVELOPE_CHANNEL_INVALID") return first;
  return send();
}

/**
 * Uploads an export of any size without holding it in memory: the file is sealed chunk by chunk into a
 * temporary file (ciphertext only, removed afterwards) while its SHA-256 is computed for the device
 * signature, then sent as a stream. A coded 503 of a node that stopped serving is sent again with the
 * same seal (api-client.ts re-reads the sealed file); a 409 ENVELOPE_CHANNEL_INVALID agrees a new key
 * and seals the export again from its file, as `uploadExport` does from its bytes.
 */
export async function uploadExportFile(
  client: ApiClient,
  receiverId: string,
  path: string,
  o: { readonly tmpDir?: string } = {},
): Promise<ApiResponse> {
  const dir = await mkdtemp(join(o.tmpDir ?? tmpdir(), "kenshin-upload-"));
  let attempt = 0;
  try {
    return await withFreshChannel(async () => {
      const agreed = await agreeEnvelopeKey(client, "upload");
      if ("refused" in agreed) return agreed.refused;
      // A new name per attempt: "wx" never writes through anything already there.
      const sealedPath = join(dir, `body-${++attempt}.kxe`);
      try {
        const sealed = await sealFile(agreed.key, path, sealedPath);
        return await client.request("POST", `/api/v1/transfers?receiver=${encodeURIComponent(receiverId)}`, {
          stream: {
            ...sealed,
            chunks: () => createReadStream(sealedPath, { highWaterMark: 1 << 20 }),
          },
          contentType: "application/octet-stream",
          headers: { [ENVELOPE_HEADER]: agreed.channelId },
        });
      } finally {
        await rm(sealedPath, { force: true });
      }
    }, itself);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Seals the file at `path` into `sealedPath` chunk by chunk; the envelope's SHA-256 and length. */
async function sealFile(
  key: EnvelopeKey,
  path: string,
  sealedPath: string,
): Promise<{ sha256Hex: string; length: number }> {
  const hash = createHash("sha256");
  let length = 0;
  const out = await open(sealedPath, "wx", 0o600);
  try {
    const sealer = new EnvelopeSealer(key);
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
  return { sha256Hex: hash.digest("hex"), length };
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
  }, itself);
  if (r.status !== 200 || key === undefined) return { refused: r };
  return {
    bytes: await openEnvelope(key, r.bytes, { maxPlaintextBytes: 2 * 1024 * 1024 * 1024 }),
    response: r,
  };
}

/**
 * Downloads a transfer's standard CSV of any size: each envelope chunk is opened as it arrives and its
 * plaintext handed to `write`. Returns the bytes written, or the refusal. A 409
 * ENVELOPE_CHANNEL_INVALID (the node answering never agreed the key) agrees a new key and asks again;
 * it comes before any byte of the body, so nothing was handed to `write` yet. A failure mid-body is
 * not asked again: the node may have recorded the download (`downloadStandardToFile` leaves no file).
 */
export async function downloadStandardTo(
  client: ApiClient,
  transferId: string,
  write: (plaintext: Uint8Array) => Promise<void> | void,
): Promise<{ bytes: number } | { refused: ApiResponse }> {
  const path = `/api/v1/transfers/${encodeURIComponent(transferId)}/download`;
  const opened = await withFreshChannel(
    async (): Promise<{ refused: ApiResponse } | { key: EnvelopeKey; body: AsyncIterable<Uint8Array> }> => {
      const agreed = await agreeEnvelopeKey(client, "download");
      if ("refused" in agreed) return agreed;
      const r = await client.requestStream("POST", path, {
        headers: { [ENVELOPE_HEADER]: agreed.channelId },
      });
      if (r.status !== 200) return { refused: await readAnswer(r) };
      return { key: agreed.key, body: r.body };
    },
    (attempt) => ("refused" in attempt ? attempt.refused : undefined),
  );
  if ("refused" in opened) return opened;
  const opener = new EnvelopeOpener(opened.key, { maxPlaintextBytes: 8 * 1024 * 1024 * 1024 });
  let bytes = 0;
  for await (const c of opened.body) {
    const plain = await opener.push(c);
    bytes += plain.length;
    if (plain.length > 0) await write(plain);
  }
  const last = await opener.finish();
  bytes += last.length;
  if (last.length > 0) await write(last);
  return { bytes };
}

/**
 * `downloadStandardTo` into the file at `target`: written to a temporary file beside it (same
 * directory, so the rename cannot cross file systems) and renamed over `target` only once the whole
 * envelope opened; on a refusal or a failure the temporary file is removed and `target` is untouched —
 * never a partial or garbled CSV under the name the user asked for.
 */
export async function downloadStandardToFile(
  client: ApiClient,
  transferId: string,
  target: string,
): Promise<{ bytes: number } | { refused: ApiResponse }> {
  const partial = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString("hex")}.partial`);
  const out = await open(partial, "wx", 0o600);
  let done = false;
  try {
    const r = await downloadStandardTo(client, transferId, async (plain) => {
      await out.write(plain);
    });
    if ("refused" in r) return r;
    await out.sync();
    await out.close();
    await rename(partial, target);
    done = true;
    return r;
  } finally {
    if (!done) {
      await out.close().catch(() => undefined);
      await rm(partial, { force: true });
    }
  }
}
