/**
 * Transfer envelope, version 1: application-layer encryption of upload and download bodies inside TLS,
 * so a TLS-inspecting proxy (or anything logging bodies after TLS ends) sees only ciphertext. WebCrypto
 * only: the same file runs in the browser, the CLI and the transfer service.
 *
 * Key agreement
 * -------------
 * Each side makes an ephemeral ECDH P-256 key pair per transfer and sends its public key as base64url of
 * the 65-byte uncompressed point (SEC 1 v2 §2.3.3, https://www.secg.org/sec1-v2.pdf). The shared secret
 * Z (32 bytes, the x-coordinate) goes through HKDF-SHA256 (RFC 5869, https://www.rfc-editor.org/rfc/rfc5869)
 * with a 32-byte salt chosen by the server and
 *
 *     info = "kenshin-envelope/v1" ‖ 0x00 ‖ purpose ‖ 0x00 ‖ channelId      (purpose: upload | download)
 *
 * giving 39 bytes: the AES-256-GCM key (32) ‖ nonce prefix (7). The purpose in info means an upload's
 * ciphertext can never be reflected back as a download of the same channel, and vice versa.
 * The envelope hides contents; it does not say who the peer is. That comes from the public keys being
 * exchanged over the authenticated API (mutual TLS and device-signed requests).
 *
 * Wire format
 * -----------
 *     header  = "KXE1" ‖ chunkSize (uint32 BE; plaintext bytes per chunk, 1 KiB … 1 MiB)
 *     body    = chunk_0 ‖ … ‖ chunk_n     each chunk = AES-256-GCM ciphertext ‖ 16-byte tag
 *     nonce_i = prefix (7) ‖ i (uint32 BE) ‖ 0x00, or 0x01 for the final chunk      (96 bits)
 *     AAD     = the 8 header bytes
 *
 * Every non-final chunk holds exactly chunkSize plaintext bytes; the final chunk holds what remains
 * (0 … chunkSize) and is always present. GCM is NIST SP 800-38D
 * (https://doi.org/10.6028/NIST.SP.800-38D); the nonce is the deterministic construction of its §8.2.1
 * (fixed field = prefix, invocation field = counter ‖ flag). The chunking is the STREAM construction of
 * Hoang, Reyhanitabar, Rogaway and Vizár, "Online Authenticated-Encryption and its Nonce-Reuse
 * Misuse-Resistance", CRYPTO 2015 (https://eprint.iacr.org/2015/189), §7: the counter in the nonce pins
 * each chunk to its position (no reordering, duplication or dropping) and the last-chunk flag makes
 * truncation at a chunk boundary detectable. The header is the AAD of every chunk, so a changed chunk
 * size fails authentication. The opener treats the trailing remainder as the final chunk, so appended
 * bytes turn a final chunk into a non-final one and fail too.
 *
 * A plaintext that is a non-zero multiple of chunkSize ends in a full final chunk (the sealer cannot know
 * that nothing follows until `finish`); openers accept an empty final chunk after it just as well. An
 * n-byte plaintext seals to 8 + n + 16·max(1, ⌈n / chunkSize⌉) bytes.
 *
 * Nonces are unique because one derived key seals exactly one stream: EnvelopeSealer refuses a key that
 * has already sealed (two streams under one key and prefix would reuse nonces, which breaks GCM).
 */
import { CodedError } from "../coded-error.js";
import { base64UrlDecode, base64UrlEncode } from "./device-key.js";

/** Codes of the envelope: unreadable framing, failed authentication, cut-off stream, size, keys. */
export type EnvelopeErrorCode =
  | "ENVELOPE_MALFORMED"
  | "ENVELOPE_INVALID"
  | "ENVELOPE_TRUNCATED"
  | "ENVELOPE_TOO_LARGE"
  | "ENVELOPE_KEY_INVALID";

/** Error of the transfer envelope. Context carries sizes and indices only, never key or body bytes. */
export class EnvelopeError extends CodedError<EnvelopeErrorCode> {
  override readonly name = "EnvelopeError";
}

/** What a derived key protects; part of the HKDF info so the two directions never share a key. */
export type EnvelopePurpose = "upload" | "download";

/**
 * What any envelope key protects: one direction of a transfer, or data a node seals at rest under a
 * secret it keeps ({@link deriveEnvelopeKeyFromSecret}). Part of the HKDF info, so no two share a key.
 */
export type EnvelopeKeyPurpose = EnvelopePurpose | "at-rest";

/**
 * A key derived for one channel and purpose. Opaque: the AES key is non-extractable and the nonce
 * prefix is never exposed, so a caller cannot build a key with a chosen prefix.
 */
export interface EnvelopeKey {
  readonly purpose: EnvelopeKeyPurpose;
  readonly channelId: string;
}

/** Smallest chunk size (plaintext bytes per chunk): smaller chunks would spend more on tags than data. */
export const ENVELOPE_MIN_CHUNK_SIZE = 1024;
/** Default chunk size: 64 KiB, a 0.02 % tag overhead and small buffers on both sides. */
export const ENVELOPE_DEFAULT_CHUNK_SIZE = 64 * 1024;
/** Largest chunk size: bounds what an opener must buffer before it can authenticate anything. */
export const ENVELOPE_MAX_CHUNK_SIZE = 1024 * 1024;

const MAGIC = Uint8Array.of(0x4b, 0x58, 0x45, 0x31); // "KXE1"
const HEADER_BYTES = 8;
/** GCM tag length: the full 128 bits (SP 800-38D §5.2.1.2). */
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const PREFIX_BYTES = 7;
const SALT_BYTES = 32;
const MAX_CHUNKS = 2 ** 32;
const PUBLIC_KEY_BYTES = 65;
const PUBLIC_KEY_CHARS = 87; // base64url of 65 bytes without padding
const PURPOSES: readonly string[] = ["upload", "download"];
const CHANNEL_ID = /^[A-Za-z0-9_-]{1,64}$/;
const INFO_LABEL = "kenshin-envelope/v1";
const ECDH_P256: EcKeyGenParams = Object.freeze({ name: "ECDH", namedCurve: "P-256" });
const EMPTY = new Uint8Array(0);

function subtle(): SubtleCrypto {
  return globalThis.crypto.subtle;
}

function keyInvalid(why: string, cause?: unknown): EnvelopeError {
  return new EnvelopeError("ENVELOPE_KEY_INVALID", `暗号化封筒の鍵が不正です: ${why}`, { why }, { cause });
}

/** True when `key` is an ECDH P-256 key of the given type (not ECDSA, not another curve). */
function isP256Ecdh(key: unknown, type: KeyType): key is CryptoKey {
  if (typeof key !== "object" || key === null) return false;
  const k = key as Partial<CryptoKey>;
  const alg = k.algorithm as Partial<EcKeyAlgorithm> | undefined;
  return k.type === type && alg?.name === "ECDH" && alg.namedCurve === "P-256";
}

/**
 * Creates an ephemeral ECDH P-256 key pair for one transfer. The private key is non-extractable: it can
 * only be used to derive, never read.
 */
export async function createEnvelopeKeyPair(): Promise<CryptoKeyPair> {
  return subtle().generateKey(ECDH_P256, false, ["deriveBits"]);
}

/**
 * The public key as sent to the peer: base64url (no padding) of the 65-byte uncompressed point.
 * @throws EnvelopeError ENVELOPE_KEY_INVALID when `key` is not an ECDH P-256 public key
 */
export async function exportEnvelopePublicKey(key: CryptoKey): Promise<string> {
  if (!isP256Ecdh(key, "public")) throw keyInvalid("ECDH P-256 の公開鍵ではありません");
  return base64UrlEncode(new Uint8Array(await subtle().exportKey("raw", key)));
}

/**
 * Imports a peer's public key. Length and the 0x04 (uncompressed) prefix are checked before WebCrypto
 * sees the bytes; WebCrypto then refuses points that are not on the curve.
 * @throws EnvelopeError ENVELOPE_KEY_INVALID for anything but a base64url uncompressed P-256 point
 */
export async function importEnvelopePublicKey(b64url: string): Promise<CryptoKey> {
  if (typeof b64url !== "string" || b64url.length !== PUBLIC_KEY_CHARS) {
    throw keyInvalid("65 バイトの base64url ではありません");
  }
  const bytes = base64UrlDecode(b64url);
  if (bytes?.length !== PUBLIC_KEY_BYTES || bytes[0] !== 0x04) {
    throw keyInvalid("非圧縮形式 (0x04) の P-256 の点ではありません");
  }
  try {
    return await subtle().importKey("raw", new Uint8Array(bytes), ECDH_P256, true, []);
  } catch (cause) {
    throw keyInvalid("P-256 の曲線上の点ではありません", cause);
  }
}

/**
 * Derives the envelope key of one channel and purpose from our private key and the peer's public key
 * (ECDH, then HKDF-SHA256 as in the file header). Both sides get the same key.
 * @throws EnvelopeError ENVELOPE_KEY_INVALID for keys of another algorithm or curve, a salt that is not
 *   32 bytes, an unknown purpose or a channel ID outside 1–64 characters of [A-Za-z0-9_-]
 */
export async function deriveEnvelopeKey(o: {
  privateKey: CryptoKey;
  peerPublicKey: CryptoKey;
  salt: Uint8Array;
  purpose: EnvelopePurpose;
  channelId: string;
}): Promise<EnvelopeKey> {
  if (!isP256Ecdh(o.privateKey, "private")) throw keyInvalid("ECDH P-256 の秘密鍵ではありません");
  if (!isP256Ecdh(o.peerPublicKey, "public"))
    throw keyInvalid("相手の鍵が ECDH P-256 の公開鍵ではありません");
  if (!(o.salt instanceof Uint8Array) || o.salt.length !== SALT_BYTES) {
    throw keyInvalid("salt が 32 バイトではありません");
  }
  if (!PURPOSES.includes(o.purpose)) throw keyInvalid("用途が upload/download ではありません");
  if (typeof o.channelId !== "string" || !CHANNEL_ID.test(o.channelId)) {
    throw keyInvalid("チャネル ID が 1〜64 文字の [A-Za-z0-9_-] ではありません");
  }
  let z: Uint8Array<ArrayBuffer>;
  try {
    z = new Uint8Array(
      await subtle().deriveBits({ name: "ECDH", public: o.peerPublicKey }, o.privateKey, 256),
    );
  } catch (cause) {
    throw keyInvalid("鍵共有に使えない鍵です", cause);
  }
  return hkdfKey(z, o.salt, o.purpose, o.channelId);
}

/**
 * An envelope key from a stored 32-byte secret instead of ECDH, for data a node seals at rest (backup
 * files): the same HKDF-SHA256 with IKM = the secret and info = "kenshin-envelope/v1" ‖ 0x00 ‖ "at-rest"
 * ‖ 0x00 ‖ label, so it never equals a transfer key. A key seals one stream: pass a fresh random salt
 * for every stream sealed under the same secret (the same salt again gives the same nonces).
 * @throws EnvelopeError ENVELOPE_KEY_INVALID for a secret or salt that is not 32 bytes, or a label
 *   outside 1–64 characters of [A-Za-z0-9_-]
 */
export async function deriveEnvelopeKeyFromSecret(o: {
  secret: Uint8Array;
  salt: Uint8Array;
  label: string;
}): Promise<EnvelopeKey> {
  if (!(o.secret instanceof Uint8Array) || o.secret.length !== KEY_BYTES) {
    throw keyInvalid("秘密が 32 バイトではありません");
  }
  if (!(o.salt instanceof Uint8Array) || o.salt.length !== SALT_BYTES) {
    throw keyInvalid("salt が 32 バイトではありません");
  }
  if (typeof o.label !== "string" || !CHANNEL_ID.test(o.label)) {
    throw keyInvalid("ラベルが 1〜64 文字の [A-Za-z0-9_-] ではありません");
  }
  return hkdfKey(new Uint8Array(o.secret), o.salt, "at-rest", o.label);
}

/** HKDF-SHA256 from the input key material to the AES key and nonce prefix; wipes `z` after import. */
async function hkdfKey(
  z: Uint8Array<ArrayBuffer>,
  salt: Uint8Array,
  purpose: EnvelopeKeyPurpose,
  channelId: string,
): Promise<EnvelopeKey> {
  const info = new TextEncoder().encode(`${INFO_LABEL}\0${purpose}\0${channelId}`);
  const ikm = await subtle().importKey("raw", z, "HKDF", false, ["deriveBits"]);
  z.fill(0); // best effort: the secret should not outlive its use in this heap
  const hkdf: HkdfParams = { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(salt), info };
  const okm = new Uint8Array(await subtle().deriveBits(hkdf, ikm, (KEY_BYTES + PREFIX_BYTES) * 8));
  const aes = await subtle().importKey("raw", okm.subarray(0, KEY_BYTES), "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
  const prefix = okm.slice(KEY_BYTES);
  okm.fill(0);
  return new DerivedKey(purpose, channelId, aes, prefix);
}

/** The one implementation of EnvelopeKey; its internals are reachable only from this module. */
class DerivedKey implements EnvelopeKey {
  readonly #aes: CryptoKey;
  readonly #prefix: Uint8Array;
  #sealed = false;

  constructor(
    readonly purpose: EnvelopeKeyPurpose,
    readonly channelId: string,
    aes: CryptoKey,
    prefix: Uint8Array,
  ) {
    this.#aes = aes;
    this.#prefix = prefix;
  }

  /** A key seals one stream only: a second stream would reuse every nonce of the first. */
  claimForSealing(): void {
    if (this.#sealed) throw keyInvalid("この鍵は既に暗号化に使われています");
    this.#sealed = true;
  }

  async seal(chunk: Chunk, plaintext: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
    return new Uint8Array(await subtle().encrypt(this.#params(chunk), this.#aes, plaintext));
  }

  /** The plaintext, or undefined when the chunk does not authenticate at this index and position. */
  async open(chunk: Chunk, ciphertext: Uint8Array<ArrayBuffer>): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await subtle().decrypt(this.#params(chunk), this.#aes, ciphertext));
    } catch {
      return undefined; // WebCrypto reports a failed tag check as OperationError and nothing more
    }
  }

  /** nonce = prefix (7) ‖ index (uint32 BE) ‖ last flag; AAD = the header. */
  #params({ index, last, header }: Chunk): AesGcmParams {
    const iv = new Uint8Array(PREFIX_BYTES + 5);
    iv.set(this.#prefix);
    new DataView(iv.buffer).setUint32(PREFIX_BYTES, index);
    iv[PREFIX_BYTES + 4] = last ? 1 : 0;
    return { name: "AES-GCM", iv, additionalData: header, tagLength: TAG_BYTES * 8 };
  }
}

/** Where a chunk sits: its counter, whether it is the final one, and the header it is bound to. */
interface Chunk {
  readonly index: number;
  readonly last: boolean;
  readonly header: Uint8Array<ArrayBuffer>;
}

function derivedKey(key: EnvelopeKey): DerivedKey {
  if (!(key instanceof DerivedKey)) throw keyInvalid("deriveEnvelopeKey で導出した鍵ではありません");
  return key;
}

function malformed(why: string, context: Record<string, unknown> = {}): EnvelopeError {
  return new EnvelopeError("ENVELOPE_MALFORMED", `暗号化封筒の形式が不正です: ${why}`, context);
}

function checkChunkSize(got: number): void {
  if (Number.isInteger(got) && got >= ENVELOPE_MIN_CHUNK_SIZE && got <= ENVELOPE_MAX_CHUNK_SIZE) return;
  const expected = `${ENVELOPE_MIN_CHUNK_SIZE}..${ENVELOPE_MAX_CHUNK_SIZE}`;
  throw malformed("チャンクサイズが 1 KiB〜1 MiB の整数ではありません", { expected, got });
}

/** The chunk counter must fit its uint32 nonce field; one more chunk would repeat a nonce. */
function checkIndex(index: number): void {
  if (index >= MAX_CHUNKS) {
    throw new EnvelopeError("ENVELOPE_TOO_LARGE", "チャンク数が上限を超えます", { chunk: index });
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Starts chunk jobs in stream order until `next` returns undefined; they run concurrently (WebCrypto
 * may use several threads) and their outputs are joined in order. When starting one throws (a limit),
 * the jobs already started are waited for, so none is left rejecting unobserved.
 */
async function gather(next: () => Promise<Uint8Array> | undefined): Promise<Uint8Array> {
  const jobs: Promise<Uint8Array>[] = [];
  try {
    for (let job = next(); job !== undefined; job = next()) jobs.push(job);
  } catch (error) {
    await Promise.allSettled(jobs);
    throw error;
  }
  return concat(await Promise.all(jobs));
}

/**
 * Bytes received but not yet used, as one contiguous owned array: `take` is a view, never a copy, and
 * `append` copies at most the remainder, which is under one chunk between steps.
 */
class ByteQueue {
  #bytes = new Uint8Array(0);

  get length(): number {
    return this.#bytes.length;
  }

  /** Takes ownership of `bytes` (a private copy made by the caller). */
  append(bytes: Uint8Array<ArrayBuffer>): void {
    if (this.#bytes.length === 0) {
      this.#bytes = bytes;
      return;
    }
    const joined = new Uint8Array(this.#bytes.length + bytes.length);
    joined.set(this.#bytes);
    joined.set(bytes, this.#bytes.length);
    this.#bytes = joined;
  }

  take(n: number): Uint8Array<ArrayBuffer> {
    const out = this.#bytes.subarray(0, n);
    this.#bytes = this.#bytes.subarray(n);
    return out;
  }
}

/**
 * Runs a stream's steps one after another in call order, even when the caller does not await each push,
 * and stops the stream at the first failure: every later call fails with that error (the state may be
 * half-updated), and so does any call after `end`.
 */
class Steps {
  #tail: Promise<unknown> = Promise.resolve();
  #stop: { error: unknown } | undefined;

  constructor(readonly afterEnd: () => EnvelopeError) {}

  run<T>(step: () => Promise<T>, o: { end: boolean }): Promise<T> {
    const next = this.#tail.then(async () => {
      if (this.#stop !== undefined) throw this.#stop.error;
      if (o.end) this.#stop = { error: this.afterEnd() };
      try {
        return await step();
      } catch (error) {
        this.#stop = { error };
        throw error;
      }
    });
    this.#tail = next.catch(() => undefined);
    return next;
  }
}

/**
 * Encrypts a stream into an envelope. Feed plaintext with `push` in pieces of any size and send what each
 * call returns; `finish` seals the final chunk. A full chunk is held back until more plaintext follows,
 * because only then is it known not to be the final one.
 */
export class EnvelopeSealer {
  readonly #key: DerivedKey;
  readonly #chunkSize: number;
  readonly #header = new Uint8Array(HEADER_BYTES);
  readonly #pending = new ByteQueue();
  readonly #steps = new Steps(() => malformed("finish の後に push されました"));
  #index = 0;
  #headerSent = false;

  /**
   * @param key a key from deriveEnvelopeKey that has not sealed before
   * @param chunkSize plaintext bytes per chunk, 1 KiB … 1 MiB (default 64 KiB)
   * @throws EnvelopeError ENVELOPE_MALFORMED for a chunk size out of range; ENVELOPE_KEY_INVALID for a
   *   key not from deriveEnvelopeKey or one that has already sealed
   */
  constructor(key: EnvelopeKey, chunkSize: number = ENVELOPE_DEFAULT_CHUNK_SIZE) {
    checkChunkSize(chunkSize);
    this.#key = derivedKey(key);
    this.#key.claimForSealing();
    this.#chunkSize = chunkSize;
    this.#header.set(MAGIC);
    new DataView(this.#header.buffer).setUint32(MAGIC.length, chunkSize);
  }

  /** Adds plaintext; returns the bytes ready to send (the header included on the first call). */
  push(plaintext: Uint8Array): Promise<Uint8Array> {
    const copy = new Uint8Array(plaintext); // the caller may reuse its buffer before the step runs
    const size = this.#chunkSize;
    return this.#steps.run(
      async () => {
        this.#pending.append(copy);
        return this.#emit(await gather(() => (this.#pending.length > size ? this.#seal(false) : undefined)));
      },
      { end: false },
    );
  }

  /** Seals the final chunk (possibly empty) and returns the last bytes to send. */
  finish(): Promise<Uint8Array> {
    return this.#steps.run(async () => this.#emit(await this.#seal(true)), { end: true });
  }

  #seal(last: boolean): Promise<Uint8Array> {
    checkIndex(this.#index);
    const chunk = { index: this.#index++, last, header: this.#header };
    return this.#key.seal(chunk, this.#pending.take(last ? this.#pending.length : this.#chunkSize));
  }

  #emit(chunks: Uint8Array): Uint8Array {
    if (this.#headerSent) return chunks;
    this.#headerSent = true;
    return concat([this.#header, chunks]);
  }
}

/**
 * Decrypts an envelope as its bytes arrive, in pieces of any size. `push` returns the plaintext of every
 * chunk known to be non-final (more bytes follow it); the last chunk is only decrypted by `finish`,
 * since only the end of the stream says which chunk is final.
 */
export class EnvelopeOpener {
  readonly #key: DerivedKey;
  readonly #maxPlaintextBytes: number;
  readonly #header = new Uint8Array(HEADER_BYTES);
  readonly #pending = new ByteQueue();
  readonly #steps = new Steps(
    () => new EnvelopeError("ENVELOPE_INVALID", "暗号化封筒の終端の後にデータがあります", {}),
  );
  #headerLength = 0;
  #chunkSize = 0; // known once the header is complete
  #index = 0;
  #plaintextBytes = 0;

  /**
   * @param o.maxPlaintextBytes the most plaintext to accept; checked before each chunk is decrypted
   * @throws EnvelopeError ENVELOPE_KEY_INVALID for a key not from deriveEnvelopeKey; ENVELOPE_MALFORMED
   *   for a limit that is not a non-negative safe integer
   */
  constructor(key: EnvelopeKey, o: { maxPlaintextBytes: number }) {
    this.#key = derivedKey(key);
    const got = o.maxPlaintextBytes;
    if (!Number.isSafeInteger(got) || got < 0)
      throw malformed("maxPlaintextBytes が 0 以上の整数ではありません", { got });
    this.#maxPlaintextBytes = got;
  }

  /**
   * Adds envelope bytes; returns the plaintext of the chunks completed so far (maybe empty).
   * @throws EnvelopeError ENVELOPE_MALFORMED, ENVELOPE_INVALID, ENVELOPE_TOO_LARGE (see the codes)
   */
  push(bytes: Uint8Array): Promise<Uint8Array> {
    const copy = new Uint8Array(bytes);
    return this.#steps.run(
      async () => {
        this.#pending.append(copy);
        if (!this.#readHeader()) return EMPTY;
        const full = this.#chunkSize + TAG_BYTES;
        return gather(() =>
          this.#pending.length > full ? this.#open(false, this.#pending.take(full)) : undefined,
        );
      },
      { end: false },
    );
  }

  /**
   * Ends the stream: authenticates the remainder as the final chunk and returns its plaintext.
   * @throws EnvelopeError ENVELOPE_TRUNCATED when the stream stops before a final chunk;
   *   ENVELOPE_INVALID when the remainder does not authenticate as the final chunk;
   *   ENVELOPE_TOO_LARGE when it would pass the limit
   */
  finish(): Promise<Uint8Array> {
    return this.#steps.run(
      async () => {
        const index = this.#index;
        const truncated = (): EnvelopeError =>
          new EnvelopeError("ENVELOPE_TRUNCATED", "暗号化封筒が途中で終わっています", { chunk: index });
        if (!this.#readHeader() || this.#pending.length < TAG_BYTES) throw truncated();
        const rest = this.#pending.take(this.#pending.length);
        try {
          return await this.#open(true, rest);
        } catch (error) {
          if (!(error instanceof EnvelopeError) || error.code !== "ENVELOPE_INVALID") throw error;
          // A full-size remainder that opens as a non-final chunk: the real final chunk was cut off.
          const full = rest.length === this.#chunkSize + TAG_BYTES;
          const chunk = { index, last: false, header: this.#header };
          if (full && (await this.#key.open(chunk, rest)) !== undefined) throw truncated();
          throw error;
        }
      },
      { end: true },
    );
  }

  /** Moves header bytes out of the queue; true once all 8 are in and valid. */
  #readHeader(): boolean {
    if (this.#headerLength === HEADER_BYTES) return true;
    const n = Math.min(HEADER_BYTES - this.#headerLength, this.#pending.length);
    this.#header.set(this.#pending.take(n), this.#headerLength);
    this.#headerLength += n;
    // Refuse foreign data as soon as the magic cannot match, not after buffering a whole body.
    for (let i = 0; i < Math.min(this.#headerLength, MAGIC.length); i++) {
      if (this.#header[i] !== MAGIC[i]) throw malformed("KXE1 で始まっていません");
    }
    if (this.#headerLength < HEADER_BYTES) return false;
    this.#chunkSize = new DataView(this.#header.buffer).getUint32(MAGIC.length);
    checkChunkSize(this.#chunkSize);
    return true;
  }

  /**
   * Checks the limit and the counter, then starts decrypting one chunk. The checks throw synchronously,
   * so no chunk past the limit is ever decrypted.
   */
  #open(last: boolean, ciphertext: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
    const size = ciphertext.length - TAG_BYTES;
    if (this.#plaintextBytes + size > this.#maxPlaintextBytes) {
      const context = { limit: this.#maxPlaintextBytes, chunk: this.#index };
      throw new EnvelopeError("ENVELOPE_TOO_LARGE", "復号後のサイズが上限を超えます", context);
    }
    checkIndex(this.#index);
    this.#plaintextBytes += size;
    const chunk = { index: this.#index++, last, header: this.#header };
    return this.#key.open(chunk, ciphertext).then((plaintext) => {
      if (plaintext !== undefined) return plaintext;
      throw new EnvelopeError("ENVELOPE_INVALID", "暗号化封筒の認証に失敗しました", {
        chunk: chunk.index,
        last,
      });
    });
  }
}

/** Seals a whole plaintext at once (see EnvelopeSealer). */
export async function sealEnvelope(
  key: EnvelopeKey,
  plaintext: Uint8Array,
  chunkSize?: number,
): Promise<Uint8Array> {
  const sealer = new EnvelopeSealer(key, chunkSize);
  return concat([await sealer.push(plaintext), await sealer.finish()]);
}

/** Opens a whole envelope at once (see EnvelopeOpener). */
export async function openEnvelope(
  key: EnvelopeKey,
  bytes: Uint8Array,
  o: { maxPlaintextBytes: number },
): Promise<Uint8Array> {
  const opener = new EnvelopeOpener(key, o);
  return concat([await opener.push(bytes), await opener.finish()]);
}
