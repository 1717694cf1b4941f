/**
 * Key agreement for the application-layer envelope (src/client/envelope.ts): the client sends an
 * ephemeral ECDH public key, the server answers with its own and a salt, and both derive the key of
 * one upload or one download. The server's half lives in memory only, for one use and a few minutes —
 * it protects one body in transit and must never be stored.
 */
import {
  createEnvelopeKeyPair,
  deriveEnvelopeKey,
  exportEnvelopePublicKey,
  importEnvelopePublicKey,
  type EnvelopeKey,
} from "../../client/envelope.js";
import { ServiceError } from "../errors.js";
import { randomToken } from "../ids.js";

export type EnvelopePurpose = "upload" | "download";

interface Channel {
  readonly loginId: string;
  readonly purpose: EnvelopePurpose;
  readonly key: EnvelopeKey;
  readonly expiresAt: number;
}

export interface OpenedChannel {
  readonly channelId: string;
  readonly serverPublicKey: string;
  readonly salt: string;
  readonly expiresAt: string;
}

const TTL_MS = 10 * 60_000;
const MAX_CHANNELS = 10_000;
/** Open channels one login may hold: enough for parallel uploads, far too few to fill the table. */
export const MAX_CHANNELS_PER_LOGIN = 32;

export class EnvelopeChannels {
  readonly #channels = new Map<string, Channel>();
  readonly #now: () => number;
  readonly #random: (n: number) => Uint8Array;

  constructor(now: () => number, random: (n: number) => Uint8Array) {
    this.#now = now;
    this.#random = random;
  }

  /** Agrees a key with the client; returns what the client needs to derive it too. */
  async open(loginId: string, purpose: EnvelopePurpose, clientPublicKey: unknown): Promise<OpenedChannel> {
    if (typeof clientPublicKey !== "string" || clientPublicKey.length > 200) {
      throw new ServiceError("ENVELOPE_INVALID", "暗号化の鍵交換の公開鍵が正しくありません", {});
    }
    let peer: CryptoKey;
    try {
      peer = await importEnvelopePublicKey(clientPublicKey);
    } catch {
      throw new ServiceError("ENVELOPE_INVALID", "暗号化の鍵交換の公開鍵が正しくありません", {});
    }
    this.#sweep();
    let mine = 0;
    for (const c of this.#channels.values()) if (c.loginId === loginId) mine++;
    if (mine >= MAX_CHANNELS_PER_LOGIN || this.#channels.size >= MAX_CHANNELS) {
      throw new ServiceError("SERVICE_BUSY", "混み合っています。しばらくしてからお試しください", {});
    }
    const channelId = randomToken(this.#random, 18);
    const salt = this.#random(32);
    const pair = await createEnvelopeKeyPair();
    const key = await deriveEnvelopeKey({
      privateKey: pair.privateKey,
      peerPublicKey: peer,
      salt,
      purpose,
      channelId,
    });
    const expiresAt = this.#now() + TTL_MS;
    this.#channels.set(channelId, { loginId, purpose, key, expiresAt });
    return {
      channelId,
      serverPublicKey: await exportEnvelopePublicKey(pair.publicKey),
      salt: Buffer.from(salt).toString("base64url"),
      expiresAt: new Date(expiresAt).toISOString(),
    };
  }

  /** Takes (and forgets) the key of a channel opened by this login for this purpose. */
  take(channelId: string | undefined, loginId: string, purpose: EnvelopePurpose): EnvelopeKey {
    const channel = channelId === undefined ? undefined : this.#channels.get(channelId);
    // Only its own login uses a channel up: another login presenting the id cannot cancel it.
    if (channelId !== undefined && channel?.loginId === loginId) this.#channels.delete(channelId);
    if (
      !channel ||
      channel.loginId !== loginId ||
      channel.purpose !== purpose ||
      channel.expiresAt < this.#now()
    ) {
      throw new ServiceError("ENVELOPE_CHANNEL_INVALID", "暗号化の鍵交換からやり直してください", {});
    }
    return channel.key;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [id, c] of this.#channels) if (c.expiresAt < now) this.#channels.delete(id);
  }
}
