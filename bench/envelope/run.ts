/**
 * Envelope benchmark: seal + open of 100 MB at 64 KiB chunks through the streaming API (fed in 1 MiB
 * pieces, as a request body arrives), and, in the same run, raw node:crypto AES-256-GCM doing the same
 * work (encrypt + decrypt each 64 KiB chunk with the header as AAD, synchronously on the main thread).
 * The ratio says what the envelope (WebCrypto, framing, copies) costs over the bare cipher.
 *
 *   npm run bench:envelope            (ENVELOPE_BENCH_MB=20 for a quicker run)
 *
 * Benchmarks are not tests: nothing here asserts on time.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import {
  EnvelopeOpener,
  EnvelopeSealer,
  createEnvelopeKeyPair,
  deriveEnvelopeKey,
  type EnvelopeKey,
} from "../../src/client/envelope.js";

const MB = 1_000_000;
const TOTAL = Number(process.env["ENVELOPE_BENCH_MB"] ?? 100) * MB;
const CHUNK = 64 * 1024;
const PIECE = 1024 * 1024;
const ROUNDS = 3;

async function keys(): Promise<{ sender: EnvelopeKey; receiver: EnvelopeKey }> {
  const a = await createEnvelopeKeyPair();
  const b = await createEnvelopeKeyPair();
  const common = { salt: randomBytes(32), purpose: "upload", channelId: "bench" } as const;
  return {
    sender: await deriveEnvelopeKey({ privateKey: a.privateKey, peerPublicKey: b.publicKey, ...common }),
    receiver: await deriveEnvelopeKey({ privateKey: b.privateKey, peerPublicKey: a.publicKey, ...common }),
  };
}

/** Seconds for one envelope seal + open of `plaintext`; checks the bytes come back. */
async function envelopeRound(plaintext: Uint8Array): Promise<number> {
  const { sender, receiver } = await keys();
  const start = performance.now();
  const sealer = new EnvelopeSealer(sender, CHUNK);
  const sealed: Uint8Array[] = [];
  for (let o = 0; o < plaintext.length; o += PIECE)
    sealed.push(await sealer.push(plaintext.subarray(o, o + PIECE)));
  sealed.push(await sealer.finish());
  const opener = new EnvelopeOpener(receiver, { maxPlaintextBytes: plaintext.length });
  const opened: Uint8Array[] = [];
  for (const body of pieces(Buffer.concat(sealed))) opened.push(await opener.push(body));
  opened.push(await opener.finish());
  const seconds = (performance.now() - start) / 1000;
  if (!Buffer.concat(opened).equals(plaintext)) throw new Error("envelope round trip lost bytes");
  return seconds;
}

function* pieces(bytes: Uint8Array): Generator<Uint8Array> {
  for (let o = 0; o < bytes.length; o += PIECE) yield bytes.subarray(o, o + PIECE);
}

/** Seconds for raw AES-256-GCM encrypt + decrypt of every 64 KiB chunk (a fresh nonce per chunk). */
function rawRound(plaintext: Uint8Array): number {
  const key = randomBytes(32);
  const prefix = randomBytes(7);
  const aad = randomBytes(8);
  const nonce = (i: number): Buffer =>
    Buffer.concat([prefix, Buffer.from([i >>> 24, i >>> 16, i >>> 8, i, 0])]);
  const start = performance.now();
  const sealed: { ct: Buffer; tag: Buffer }[] = [];
  for (let o = 0, i = 0; o < plaintext.length; o += CHUNK, i++) {
    const c = createCipheriv("aes-256-gcm", key, nonce(i)).setAAD(aad);
    const ct = Buffer.concat([c.update(plaintext.subarray(o, o + CHUNK)), c.final()]);
    sealed.push({ ct, tag: c.getAuthTag() });
  }
  const opened = sealed.map(({ ct, tag }, i) => {
    const d = createDecipheriv("aes-256-gcm", key, nonce(i)).setAAD(aad);
    d.setAuthTag(tag);
    return Buffer.concat([d.update(ct), d.final()]);
  });
  const seconds = (performance.now() - start) / 1000;
  if (!Buffer.concat(opened).equals(plaintext)) throw new Error("raw round trip lost bytes");
  return seconds;
}

async function main(): Promise<void> {
  const plaintext = randomBytes(TOTAL);
  await envelopeRound(plaintext.subarray(0, 4 * MB)); // warm-up: JIT and the WebCrypto thread pool
  rawRound(plaintext.subarray(0, 4 * MB));
  let envelope = Infinity;
  let raw = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    envelope = Math.min(envelope, await envelopeRound(plaintext));
    raw = Math.min(raw, rawRound(plaintext));
  }
  const rate = (s: number): string => `${(TOTAL / MB / s).toFixed(0)} MB/s`;
  console.log(
    `envelope bench: ${TOTAL / MB} MB, 64 KiB chunks, seal + open, best of ${ROUNDS} (Node ${process.version})`,
  );
  console.log(
    `  envelope (WebCrypto, streamed in 1 MiB pieces)  ${envelope.toFixed(3)} s  ${rate(envelope)}`,
  );
  console.log(`  raw node:crypto AES-256-GCM, same chunks        ${raw.toFixed(3)} s  ${rate(raw)}`);
  console.log(`  envelope / raw throughput                       ${(raw / envelope).toFixed(2)}`);
}

await main();
