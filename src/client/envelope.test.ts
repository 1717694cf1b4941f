import { createCipheriv, createDecipheriv } from "node:crypto";
import { p256 } from "@noble/curves/nist.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { base64UrlDecode, base64UrlEncode } from "./device-key.js";
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

const C = 1024; // the smallest chunk size keeps multi-chunk cases small
const TAG = 16;
const HEADER = 8;
const MAX = { maxPlaintextBytes: 1 << 24 };

interface Side {
  salt?: Uint8Array;
  purpose?: EnvelopePurpose;
  channelId?: string;
}

/**
 * Two parties who exchanged public keys as the service does (base64url strings). `sender()` derives a
 * fresh key object each call, all with the same AES key and prefix: only tests compare two sealings.
 */
async function parties(s: Side = {}, r: Side = s) {
  const a = await createEnvelopeKeyPair();
  const b = await createEnvelopeKeyPair();
  const aPub = await importEnvelopePublicKey(await exportEnvelopePublicKey(a.publicKey));
  const bPub = await importEnvelopePublicKey(await exportEnvelopePublicKey(b.publicKey));
  const salt = new Uint8Array(32).fill(9);
  const opts = (o: Side) => ({ salt, purpose: "upload" as const, channelId: "T-1", ...o });
  return {
    sender: () => deriveEnvelopeKey({ privateKey: a.privateKey, peerPublicKey: bPub, ...opts(s) }),
    receiver: await deriveEnvelopeKey({ privateKey: b.privateKey, peerPublicKey: aPub, ...opts(r) }),
  };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "OK";
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

/** Deterministic non-constant bytes. */
function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0, x = seed; i < n; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** `data` cut at the given offsets (sorted, deduplicated, clipped), including empty pieces. */
function pieces(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((x, y) => x - y);
  return [...at, data.length].map((end, i) => data.subarray(i === 0 ? 0 : (at[i - 1] ?? 0), end));
}

async function sealIn(key: EnvelopeKey, parts: Uint8Array[], chunkSize = C): Promise<Uint8Array> {
  const sealer = new EnvelopeSealer(key, chunkSize);
  const out: Uint8Array[] = [];
  for (const p of parts) out.push(await sealer.push(p));
  return concat([...out, await sealer.finish()]);
}

async function openIn(key: EnvelopeKey, parts: Uint8Array[], max = MAX): Promise<Uint8Array> {
  const opener = new EnvelopeOpener(key, max);
  const out: Uint8Array[] = [];
  for (const p of parts) out.push(await opener.push(p));
  return concat([...out, await opener.finish()]);
}

/** Header and chunk ciphertexts of a sealed envelope, split by the wire format. */
function split(sealed: Uint8Array, chunkSize = C): { header: Uint8Array; chunks: Uint8Array[] } {
  const chunks: Uint8Array[] = [];
  for (let o = HEADER; o < sealed.length; o += chunkSize + TAG)
    chunks.push(sealed.slice(o, o + chunkSize + TAG));
  return { header: sealed.slice(0, HEADER), chunks };
}

describe("round trip", () => {
  it.each([0, 1, C - 1, C, C + 1, 2 * C, 3 * C + 7])(
    "%i plaintext bytes: exact wire length, a final chunk always present, same bytes back",
    async (n) => {
      const { sender, receiver } = await parties();
      const plaintext = bytes(n);
      const sealed = await sealEnvelope(await sender(), plaintext, C);
      expect(sealed.length).toBe(HEADER + n + TAG * Math.max(1, Math.ceil(n / C)));
      expect(Buffer.from(sealed.subarray(0, 8)).toString("hex")).toBe("4b58453100000400"); // "KXE1" ‖ 1024
      expect(await openEnvelope(receiver, sealed, MAX)).toEqual(plaintext);
    },
  );

  it("is chunk-boundary invariant: any push splitting on either side gives the same bytes", async () => {
    const cuts = fc.array(fc.nat(), { maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 5 * C + 3 }), cuts, cuts, async (n, sealCuts, openCuts) => {
        const { sender, receiver } = await parties();
        const plaintext = bytes(n, n + 7);
        const whole = await sealEnvelope(await sender(), plaintext, C);
        const sealed = await sealIn(await sender(), pieces(plaintext, sealCuts));
        expect(sealed).toEqual(whole);
        expect(await openIn(receiver, pieces(sealed, openCuts))).toEqual(plaintext);
      }),
      { numRuns: 40 },
    );
  });

  it("one byte at a time on both sides, and with pushes not awaited in between", async () => {
    const { sender, receiver } = await parties();
    const plaintext = bytes(2 * C + 5);
    const oneByOne = (d: Uint8Array) => [...d].map((b) => Uint8Array.of(b));
    const sealed = await sealIn(await sender(), oneByOne(plaintext));
    expect(sealed).toEqual(await sealEnvelope(await sender(), plaintext, C));
    expect(await openIn(receiver, oneByOne(sealed))).toEqual(plaintext);
    const opener = new EnvelopeOpener(receiver, MAX);
    const outs = await Promise.all([...oneByOne(sealed).map((p) => opener.push(p)), opener.finish()]);
    expect(concat(outs)).toEqual(plaintext);
  });

  it("the opener releases a chunk only once a byte follows it; the sealer holds a full chunk back", async () => {
    const { sender, receiver } = await parties();
    const sealer = new EnvelopeSealer(await sender(), C);
    expect((await sealer.push(bytes(C))).length).toBe(HEADER); // may still be the final chunk
    expect((await sealer.push(bytes(1))).length).toBe(C + TAG);
    const sealed = concat([await sealEnvelope(await sender(), bytes(3 * C), C)]);
    const opener = new EnvelopeOpener(receiver, MAX);
    expect((await opener.push(sealed.subarray(0, HEADER + C + TAG))).length).toBe(0);
    expect(await opener.push(sealed.subarray(HEADER + C + TAG, HEADER + C + TAG + 1))).toEqual(
      bytes(3 * C).subarray(0, C),
    );
  });

  it("a caller reusing its buffer right after push does not change what is sealed", async () => {
    const { sender, receiver } = await parties();
    const sealer = new EnvelopeSealer(await sender(), C);
    const buffer = bytes(3000);
    const pending = sealer.push(buffer);
    buffer.fill(0);
    const sealed = concat([await pending, await sealer.finish()]);
    expect(await openEnvelope(receiver, sealed, MAX)).toEqual(bytes(3000));
  });
});

describe("key agreement", () => {
  it("matches an independent implementation of the spec (noble P-256 + HKDF, node:crypto GCM), both ways", async () => {
    const [skA, skB] = [p256.utils.randomSecretKey(), p256.utils.randomSecretKey()];
    const [pkA, pkB] = [p256.getPublicKey(skA, false), p256.getPublicKey(skB, false)];
    const salt = bytes(32, 5);
    const derive = async (sk: Uint8Array, pk: Uint8Array, peer: Uint8Array) => {
      const jwk = {
        kty: "EC",
        crv: "P-256",
        x: base64UrlEncode(pk.subarray(1, 33)),
        y: base64UrlEncode(pk.subarray(33)),
        d: base64UrlEncode(sk),
      };
      const privateKey = await crypto.subtle.importKey(
        "jwk",
        jwk,
        { name: "ECDH", namedCurve: "P-256" },
        false,
        ["deriveBits"],
      );
      const peerPublicKey = await importEnvelopePublicKey(base64UrlEncode(peer));
      return deriveEnvelopeKey({ privateKey, peerPublicKey, salt, purpose: "download", channelId: "tr_9-Z" });
    };
    // The reference: RFC 5869 HKDF over the ECDH x-coordinate, then one GCM call per chunk.
    const z = p256.getSharedSecret(skB, pkA, true).subarray(1);
    const okm = hkdf(sha256, z, salt, new TextEncoder().encode("kenshin-envelope/v1\0download\0tr_9-Z"), 39);
    const nonce = (i: number, last: boolean) => {
      const n = new Uint8Array(12);
      n.set(okm.subarray(32));
      new DataView(n.buffer).setUint32(7, i);
      n[11] = last ? 1 : 0;
      return n;
    };

    const plaintext = bytes(2 * C + 10, 3);
    const { header, chunks } = split(await sealEnvelope(await derive(skA, pkA, pkB), plaintext, C));
    const opened = chunks.map((chunk, i) => {
      const d = createDecipheriv("aes-256-gcm", okm.subarray(0, 32), nonce(i, i === chunks.length - 1));
      d.setAAD(header).setAuthTag(chunk.subarray(-TAG));
      return concat([d.update(chunk.subarray(0, -TAG)), d.final()]);
    });
    expect(concat(opened)).toEqual(plaintext);

    // The other way, in the form our sealer never writes: a full chunk, then an empty final chunk.
    const sealedByReference = [bytes(C, 4), new Uint8Array(0)].map((p, i) => {
      const c = createCipheriv("aes-256-gcm", okm.subarray(0, 32), nonce(i, i === 1)).setAAD(header);
      return concat([c.update(p), c.final(), c.getAuthTag()]);
    });
    const receiver = await derive(skB, pkB, pkA);
    expect(await openEnvelope(receiver, concat([header, ...sealedByReference]), MAX)).toEqual(bytes(C, 4));
  });

  it.each<[string, Side]>([
    ["another channel ID", { channelId: "T-2" }],
    ["the other purpose (no reflecting an upload as a download)", { purpose: "download" }],
    ["another salt", { salt: new Uint8Array(32).fill(8) }],
  ])("a receiver deriving with %s cannot open → ENVELOPE_INVALID", async (_, r) => {
    const { sender, receiver } = await parties({}, r);
    const sealed = await sealEnvelope(await sender(), bytes(100), C);
    expect(await codeOf(openEnvelope(receiver, sealed, MAX))).toBe("ENVELOPE_INVALID");
  });
});

describe("tampering, each with its code", () => {
  const plaintext = bytes(3 * C + 100); // three full chunks and a final one of 100 bytes
  const setup = async () => {
    const { sender, receiver } = await parties();
    const sealed = await sealEnvelope(await sender(), plaintext, C);
    return {
      sealed,
      receiver,
      ...split(sealed),
      open: (b: Uint8Array, max = MAX) => codeOf(openEnvelope(receiver, b, max)),
    };
  };

  it("untampered → OK (so the cases below fail for the reason they name)", async () => {
    const { sealed, open } = await setup();
    expect(await open(sealed)).toBe("OK");
  });

  it("a flipped bit in any chunk, tag included → ENVELOPE_INVALID", async () => {
    const { sealed, open } = await setup();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: HEADER, max: sealed.length - 1 }),
        fc.nat({ max: 7 }),
        async (at, bit) => {
          const t = sealed.slice();
          t[at] = (t[at] as number) ^ (1 << bit);
          expect(await open(t)).toBe("ENVELOPE_INVALID");
        },
      ),
      { numRuns: 60 },
    );
  });

  it("header chunk size changed: to another valid size → ENVELOPE_INVALID, out of range → ENVELOPE_MALFORMED", async () => {
    const { sealed, open } = await setup();
    const withSize = (size: number) => {
      const t = sealed.slice();
      new DataView(t.buffer).setUint32(4, size);
      return t;
    };
    expect(await open(withSize(2048))).toBe("ENVELOPE_INVALID");
    expect(await open(withSize(C * 4))).toBe("ENVELOPE_INVALID");
    for (const size of [0, 1023, 1025 * 1024, 0xffffffff])
      expect(await open(withSize(size))).toBe("ENVELOPE_MALFORMED");
  });

  it("chunks swapped → ENVELOPE_INVALID; a chunk duplicated → ENVELOPE_INVALID", async () => {
    const { header, chunks, open } = await setup();
    const [c0, c1, c2, last] = chunks as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    expect(await open(concat([header, c1, c0, c2, last]))).toBe("ENVELOPE_INVALID");
    expect(await open(concat([header, c0, c1, c1, c2, last]))).toBe("ENVELOPE_INVALID");
    expect(await open(concat([header, c0, c1, c2, last, last]))).toBe("ENVELOPE_INVALID");
  });

  it("the final chunk removed → ENVELOPE_TRUNCATED", async () => {
    const { header, chunks, open } = await setup();
    expect(await open(concat([header, ...chunks.slice(0, -1)]))).toBe("ENVELOPE_TRUNCATED");
    expect(await open(header)).toBe("ENVELOPE_TRUNCATED");
  });

  it("truncation at every byte offset → ENVELOPE_TRUNCATED or ENVELOPE_INVALID, never success", async () => {
    const { sealed, open } = await setup();
    const codes = new Map<number, string>();
    for (let n = 0; n < sealed.length; n++) codes.set(n, await open(sealed.subarray(0, n)));
    expect(new Set(codes.values())).toEqual(new Set(["ENVELOPE_TRUNCATED", "ENVELOPE_INVALID"]));
    for (const k of [0, 1, 2, 3]) expect(codes.get(HEADER + k * (C + TAG))).toBe("ENVELOPE_TRUNCATED");
  });

  it("bytes appended (1, 16, a whole chunk), or pushed after finish → ENVELOPE_INVALID", async () => {
    const { sealed, chunks, open, receiver } = await setup();
    for (const extra of [bytes(1), bytes(16), chunks[0] as Uint8Array]) {
      expect(await open(concat([sealed, extra]))).toBe("ENVELOPE_INVALID");
    }
    const opener = new EnvelopeOpener(receiver, MAX);
    await opener.push(sealed);
    await opener.finish();
    expect(await codeOf(opener.push(bytes(1)))).toBe("ENVELOPE_INVALID");
  });

  it("wrong magic → ENVELOPE_MALFORMED, from the first byte that cannot match", async () => {
    const { sealed, open, receiver } = await setup();
    for (const magic of ["KXE2", "kxe1", "\0\0\0\0"]) {
      expect(await open(concat([new TextEncoder().encode(magic), sealed.subarray(4)]))).toBe(
        "ENVELOPE_MALFORMED",
      );
    }
    expect(await codeOf(new EnvelopeOpener(receiver, MAX).push(Uint8Array.of(0x4b, 0x00)))).toBe(
      "ENVELOPE_MALFORMED",
    );
  });

  it("over maxPlaintextBytes → ENVELOPE_TOO_LARGE before the rest is decrypted, and the opener stays failed", async () => {
    const { sealed, open, receiver } = await setup();
    expect(await open(sealed, { maxPlaintextBytes: plaintext.length })).toBe("OK");
    expect(await open(sealed, { maxPlaintextBytes: plaintext.length - 1 })).toBe("ENVELOPE_TOO_LARGE");
    const tamperedTail = sealed.slice();
    tamperedTail[sealed.length - 1] = (tamperedTail[sealed.length - 1] as number) ^ 1; // would be ENVELOPE_INVALID if it were ever decrypted
    expect(await open(tamperedTail, { maxPlaintextBytes: C })).toBe("ENVELOPE_TOO_LARGE");
    const opener = new EnvelopeOpener(receiver, { maxPlaintextBytes: C });
    expect((await opener.push(sealed.subarray(0, HEADER + C + TAG + 1))).length).toBe(C);
    expect(await codeOf(opener.push(sealed.subarray(HEADER + C + TAG + 1, HEADER + 2 * (C + TAG) + 1)))).toBe(
      "ENVELOPE_TOO_LARGE",
    );
    expect(await codeOf(opener.finish())).toBe("ENVELOPE_TOO_LARGE");
  });
});

describe("a TLS-inspecting proxy's view", () => {
  it("the sealed body of a plaintext full of a marker contains no trace of the marker", async () => {
    const marker = "KENSHIN-MARKER 受診者氏名=山田太郎 HbA1c=6.1%";
    const plaintext = new TextEncoder().encode(marker.repeat(5000));
    const { sender } = await parties();
    const sealed = Buffer.from(await sealEnvelope(await sender(), plaintext));
    const needles = [
      Buffer.from(marker, "utf8"),
      Buffer.from("KENSHIN-MARKER"),
      Buffer.from("山田太郎", "utf8"),
    ];
    for (const needle of needles) {
      expect(Buffer.from(plaintext).includes(needle)).toBe(true); // the search itself works
      expect(sealed.includes(needle)).toBe(false);
    }
    expect(sealed.toString("latin1").includes("KENSHIN")).toBe(false);
  });
});

describe("keys and options", () => {
  it("exports 87 base64url characters of an uncompressed point, which import back", async () => {
    const { publicKey } = await createEnvelopeKeyPair();
    const text = await exportEnvelopePublicKey(publicKey);
    expect(text).toMatch(/^[A-Za-z0-9_-]{87}$/);
    expect(base64UrlDecode(text)?.[0]).toBe(0x04);
    expect(await exportEnvelopePublicKey(await importEnvelopePublicKey(text))).toBe(text);
  });

  it("public keys from another curve, compressed, off the curve or badly encoded → ENVELOPE_KEY_INVALID", async () => {
    const good = base64UrlDecode(
      await exportEnvelopePublicKey((await createEnvelopeKeyPair()).publicKey),
    ) as Uint8Array;
    const p384 = await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-384" }, true, ["deriveBits"]);
    const p384Raw = new Uint8Array(await crypto.subtle.exportKey("raw", p384.publicKey));
    const offCurve = good.slice();
    offCurve[64] = (offCurve[64] as number) ^ 1;
    const wrongPrefix = good.slice();
    wrongPrefix[0] = 0x05;
    const texts = [
      base64UrlEncode(p384Raw),
      base64UrlEncode(p256.getPublicKey(p256.utils.randomSecretKey(), true)),
      base64UrlEncode(offCurve),
      base64UrlEncode(wrongPrefix),
      base64UrlEncode(good) + "=",
      base64UrlEncode(good).replace(/.$/, "+"),
      base64UrlEncode(good.subarray(1)),
      "",
      42 as unknown as string,
    ];
    for (const t of texts) expect(await codeOf(importEnvelopePublicKey(t))).toBe("ENVELOPE_KEY_INVALID");
    expect(await codeOf(exportEnvelopePublicKey(p384.publicKey))).toBe("ENVELOPE_KEY_INVALID");
    const mine = await createEnvelopeKeyPair();
    const base = {
      privateKey: mine.privateKey,
      peerPublicKey: p384.publicKey,
      salt: new Uint8Array(32),
      purpose: "upload" as const,
      channelId: "c",
    };
    expect(await codeOf(deriveEnvelopeKey(base))).toBe("ENVELOPE_KEY_INVALID");
    const ecdsa = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
      "sign",
      "verify",
    ]);
    expect(await codeOf(deriveEnvelopeKey({ ...base, peerPublicKey: ecdsa.publicKey }))).toBe(
      "ENVELOPE_KEY_INVALID",
    );
    expect(await codeOf(deriveEnvelopeKey({ ...base, peerPublicKey: mine.privateKey }))).toBe(
      "ENVELOPE_KEY_INVALID",
    );
  });

  it("a salt that is not 32 bytes, an unknown purpose or a bad channel ID → ENVELOPE_KEY_INVALID", async () => {
    const a = await createEnvelopeKeyPair();
    const base = {
      privateKey: a.privateKey,
      peerPublicKey: a.publicKey,
      salt: new Uint8Array(32),
      purpose: "upload" as const,
      channelId: "c",
    };
    expect(await codeOf(deriveEnvelopeKey(base))).toBe("OK");
    expect(await codeOf(deriveEnvelopeKey({ ...base, channelId: "x".repeat(64) }))).toBe("OK");
    const bad = [
      { salt: new Uint8Array(31) },
      { salt: new Uint8Array(33) },
      { purpose: "Upload" as EnvelopePurpose },
      ...["", "x".repeat(65), "a/b", "a b", "日本", "a\0b"].map((channelId) => ({ channelId })),
    ];
    for (const o of bad)
      expect(await codeOf(deriveEnvelopeKey({ ...base, ...o }))).toBe("ENVELOPE_KEY_INVALID");
  });

  it("a key seals one stream only (nonce reuse), and a hand-made key object is refused → ENVELOPE_KEY_INVALID", async () => {
    const { sender } = await parties();
    const key = await sender();
    await sealEnvelope(key, bytes(10));
    expect(await codeOf(sealEnvelope(key, bytes(10)))).toBe("ENVELOPE_KEY_INVALID");
    const forged: EnvelopeKey = { purpose: "upload", channelId: "T-1" };
    expect(await codeOf(sealEnvelope(forged, bytes(10)))).toBe("ENVELOPE_KEY_INVALID");
    expect(await codeOf(openEnvelope(forged, bytes(40), MAX))).toBe("ENVELOPE_KEY_INVALID");
  });

  it("a chunk size out of range, a bad limit, or a push after finish → ENVELOPE_MALFORMED", async () => {
    const { sender, receiver } = await parties();
    for (const size of [1023, 1024 * 1024 + 1, 1500.5, Number.NaN]) {
      expect(await codeOf(sealEnvelope(await sender(), bytes(1), size))).toBe("ENVELOPE_MALFORMED");
    }
    expect(await codeOf(sealEnvelope(await sender(), bytes(1), 1024 * 1024))).toBe("OK");
    for (const maxPlaintextBytes of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(await codeOf(openEnvelope(receiver, bytes(40), { maxPlaintextBytes }))).toBe(
        "ENVELOPE_MALFORMED",
      );
    }
    const sealer = new EnvelopeSealer(await sender(), C);
    await sealer.finish();
    expect(await codeOf(sealer.push(bytes(1)))).toBe("ENVELOPE_MALFORMED");
  });
});
