import { createHash, createPublicKey, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { deviceIdFromJwk, exportPublicJwk, generateDeviceKey } from "./device-key.js";
import { canonicalSigningString, sha256Hex, signRequest } from "./request-signing.js";

const NONCE = Uint8Array.from({ length: 16 }, (_, i) => i);
const NONCE_B64URL = "AAECAwQFBgcICQoLDA0ODw";
const NOW = Date.UTC(2026, 0, 1);
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const DEVICE_ID = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

function fields(over: Partial<Parameters<typeof canonicalSigningString>[0]> = {}) {
  return {
    method: "post",
    path: "/api/v1/transfers?dry-run=1&x=%E5%81%A5",
    bodySha256Hex: EMPTY_SHA256,
    timestamp: NOW,
    nonce: NONCE_B64URL,
    deviceId: DEVICE_ID,
    ...over,
  };
}

describe("canonicalSigningString", () => {
  it("is the documented seven lines, method upper-cased, path and query untouched", () => {
    expect(canonicalSigningString(fields())).toBe(
      [
        "kenshin-device-signature/v1",
        "POST",
        "/api/v1/transfers?dry-run=1&x=%E5%81%A5",
        EMPTY_SHA256,
        "1767225600000",
        NONCE_B64URL,
        DEVICE_ID,
      ].join("\n"),
    );
  });

  it("refuses fields that would make the string ambiguous or differ from the wire → DEVICE_REQUEST_INVALID", () => {
    const bad = [
      fields({ method: "" }),
      fields({ method: "PO ST" }),
      fields({ method: "POST\n" }),
      fields({ method: "X".repeat(33) }),
      fields({ path: "" }),
      fields({ path: "api/x" }), // not origin-form
      fields({ path: "/a\nb" }),
      fields({ path: "/a b" }),
      fields({ path: "/健診" }), // must be percent-encoded as sent
      fields({ path: `/${"a".repeat(8192)}` }),
      fields({ bodySha256Hex: EMPTY_SHA256.toUpperCase() }),
      fields({ bodySha256Hex: EMPTY_SHA256.slice(1) }),
      fields({ timestamp: -1 }),
      fields({ timestamp: 1.5 }),
      fields({ timestamp: Number.NaN }),
      fields({ timestamp: 2 ** 53 }),
      fields({ nonce: "" }),
      fields({ nonce: "a\nb" }),
      fields({ deviceId: "id;sig=x" }),
    ];
    for (const f of bad) {
      expect(() => canonicalSigningString(f), JSON.stringify(f)).toThrow(
        expect.objectContaining({ code: "DEVICE_REQUEST_INVALID" }),
      );
    }
  });
});

describe("sha256Hex", () => {
  it("is the lower-case hex SHA-256", async () => {
    expect(await sha256Hex(new Uint8Array())).toBe(EMPTY_SHA256);
    const body = new TextEncoder().encode('{"a":"健診"}');
    expect(await sha256Hex(body)).toBe(createHash("sha256").update(body).digest("hex"));
  });
});

describe("signRequest", () => {
  it("writes the documented header and an ECDSA P-256 P1363 signature over the canonical string", async () => {
    const pair = await generateDeviceKey();
    const jwk = await exportPublicJwk(pair.publicKey);
    const deviceId = await deviceIdFromJwk(jwk);
    const body = new TextEncoder().encode('{"receiver":"R-1"}');
    const header = await signRequest({
      method: "post",
      path: "/api/v1/transfers?x=1",
      body,
      privateKey: pair.privateKey,
      deviceId,
      now: NOW,
      nonce: NONCE,
    });
    const m = /^v1;id=([\w-]{43});ts=(\d+);nonce=([\w-]{22});sig=([\w-]{86})$/.exec(header);
    expect(m).not.toBeNull();
    const [, id, ts, nonce, sig] = m as unknown as [string, string, string, string, string];
    expect([id, ts, nonce]).toEqual([deviceId, String(NOW), NONCE_B64URL]);

    // Checked with node:crypto, independently of WebCrypto: P1363 r‖s over the canonical string.
    const message = canonicalSigningString({
      method: "POST",
      path: "/api/v1/transfers?x=1",
      bodySha256Hex: createHash("sha256").update(body).digest("hex"),
      timestamp: NOW,
      nonce: NONCE_B64URL,
      deviceId,
    });
    const key = createPublicKey({ key: { ...jwk }, format: "jwk" });
    const signature = Buffer.from(sig, "base64url");
    expect(signature).toHaveLength(64);
    expect(verify("sha256", Buffer.from(message), { key, dsaEncoding: "ieee-p1363" }, signature)).toBe(true);
    expect(verify("sha256", Buffer.from(`${message}x`), { key, dsaEncoding: "ieee-p1363" }, signature)).toBe(
      false,
    );
  });

  it("draws a fresh 16-byte nonce when none is given", async () => {
    const pair = await generateDeviceKey();
    const o = {
      method: "DELETE",
      path: "/api/x",
      privateKey: pair.privateKey,
      deviceId: DEVICE_ID,
      now: NOW,
    };
    const nonces = await Promise.all([signRequest(o), signRequest(o)]).then((hs) =>
      hs.map((h) => /;nonce=([^;]+);/.exec(h)?.[1]),
    );
    expect(nonces[0]).toMatch(/^[\w-]{22}$/);
    expect(nonces[0]).not.toBe(nonces[1]);
  });

  it("refuses a nonce that is not 16 bytes and a key that cannot sign", async () => {
    const pair = await generateDeviceKey();
    const base = {
      method: "POST",
      path: "/api/x",
      privateKey: pair.privateKey,
      deviceId: DEVICE_ID,
      now: NOW,
    };
    await expect(signRequest({ ...base, nonce: new Uint8Array(15) })).rejects.toMatchObject({
      code: "DEVICE_REQUEST_INVALID",
    });
    await expect(signRequest({ ...base, privateKey: pair.publicKey })).rejects.toMatchObject({
      code: "DEVICE_KEY_INVALID",
    });
  });
});
