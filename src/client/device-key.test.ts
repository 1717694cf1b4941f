import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  base64UrlDecode,
  base64UrlEncode,
  deviceIdFromJwk,
  exportPublicJwk,
  generateDeviceKey,
  importDevicePublicKey,
  parseDevicePublicJwk,
} from "./device-key.js";

// The P-256 public key of RFC 9449 §5 (DPoP proof example) and its JWK thumbprint, given in §6.1 as the
// example "jkt": an independent RFC 7638 test vector for an EC key.
const RFC9449_JWK = {
  kty: "EC",
  x: "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
  y: "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
  crv: "P-256",
};
const RFC9449_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "OK";
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

describe("deviceIdFromJwk (RFC 7638)", () => {
  it("matches the RFC 9449 example thumbprint", async () => {
    expect(await deviceIdFromJwk(RFC9449_JWK)).toBe(RFC9449_JKT);
  });

  it("ignores member order and non-required members (alg, use, kid, key_ops, ext)", async () => {
    const noisy = {
      use: "sig",
      y: RFC9449_JWK.y,
      kid: "k1",
      crv: "P-256",
      alg: "ES256",
      x: RFC9449_JWK.x,
      kty: "EC",
      ext: true,
      key_ops: ["verify"],
    };
    expect(await deviceIdFromJwk(noisy)).toBe(RFC9449_JKT);
  });

  it("differs when any coordinate bit differs", async () => {
    const x = base64UrlDecode(RFC9449_JWK.x) as Uint8Array;
    x[31] = (x[31] as number) ^ 1;
    expect(await codeOf(deviceIdFromJwk({ ...RFC9449_JWK, x: base64UrlEncode(x) }))).toBe("OK");
    expect(await deviceIdFromJwk({ ...RFC9449_JWK, x: base64UrlEncode(x) })).not.toBe(RFC9449_JKT);
  });
});

describe("parseDevicePublicJwk", () => {
  it("keeps exactly kty, crv, x, y", () => {
    expect(parseDevicePublicJwk({ ...RFC9449_JWK, kid: "x", ext: true })).toEqual({
      kty: "EC",
      crv: "P-256",
      x: RFC9449_JWK.x,
      y: RFC9449_JWK.y,
    });
  });

  it("refuses other key types, curves, private parts and malformed coordinates → DEVICE_KEY_INVALID", () => {
    const x31 = base64UrlEncode(new Uint8Array(31).fill(7));
    const bad: unknown[] = [
      null,
      "jwk",
      [RFC9449_JWK],
      { ...RFC9449_JWK, kty: "RSA" },
      { ...RFC9449_JWK, crv: "P-384" },
      { ...RFC9449_JWK, crv: "secp256k1" },
      { ...RFC9449_JWK, d: "AAAA" },
      { ...RFC9449_JWK, x: x31 },
      { ...RFC9449_JWK, x: `${RFC9449_JWK.x}=` }, // padding
      { ...RFC9449_JWK, x: RFC9449_JWK.x.replace("-", "+") }, // base64, not base64url
      { ...RFC9449_JWK, y: `${RFC9449_JWK.y.slice(0, -1)}B` }, // non-zero spare bits
      { ...RFC9449_JWK, y: 42 },
      { kty: "EC", crv: "P-256", x: RFC9449_JWK.x },
    ];
    for (const jwk of bad) {
      expect(() => parseDevicePublicJwk(jwk), JSON.stringify(jwk)).toThrow(
        expect.objectContaining({ code: "DEVICE_KEY_INVALID" }),
      );
    }
  });

  it("importDevicePublicKey refuses a point that is not on the curve", async () => {
    expect(await codeOf(importDevicePublicKey(RFC9449_JWK))).toBe("OK");
    const offCurve = { ...RFC9449_JWK, y: base64UrlEncode(new Uint8Array(32).fill(1)) };
    expect(await codeOf(importDevicePublicKey(offCurve))).toBe("DEVICE_KEY_INVALID");
  });
});

describe("generateDeviceKey / exportPublicJwk", () => {
  it("makes a non-extractable P-256 signing key whose public JWK yields a 43-character device ID", async () => {
    const pair = await generateDeviceKey();
    expect(pair.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey("jwk", pair.privateKey)).rejects.toThrow();
    const jwk = await exportPublicJwk(pair.publicKey);
    expect(Object.keys(jwk).sort()).toEqual(["crv", "kty", "x", "y"]);
    expect(await deviceIdFromJwk(jwk)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await codeOf(exportPublicJwk(pair.privateKey))).toBe("DEVICE_KEY_INVALID");
  });

  it("gives each key its own device ID", async () => {
    const ids = await Promise.all(
      [1, 2, 3].map(async () =>
        deviceIdFromJwk(await exportPublicJwk((await generateDeviceKey()).publicKey)),
      ),
    );
    expect(new Set(ids).size).toBe(3);
  });
});

describe("base64url", () => {
  it("round-trips any bytes and agrees with Node's encoder", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = base64UrlEncode(bytes);
        expect(text).toBe(Buffer.from(bytes).toString("base64url"));
        expect(base64UrlDecode(text)).toEqual(bytes);
      }),
    );
  });

  it("accepts only the one canonical spelling", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        const bytes = base64UrlDecode(text);
        if (bytes !== undefined) expect(base64UrlEncode(bytes)).toBe(text);
      }),
    );
    for (const bad of ["A", "AB=", "AB==", "A+", "A/", "AB C", "AF"])
      expect(base64UrlDecode(bad), bad).toBeUndefined();
    expect(base64UrlDecode("AA")).toEqual(new Uint8Array([0]));
  });
});
