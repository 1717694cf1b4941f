import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  base64UrlDecode,
  base64UrlEncode,
  deviceIdFromJwk,
  exportPublicJwk,
  generateDeviceKey,
} from "../../client/device-key.js";
import type { DevicePublicJwk } from "../../client/device-key.js";
import { formatDeviceSignatureHeader, sha256Hex, signRequest } from "../../client/request-signing.js";
import {
  parseDeviceSignatureHeader,
  verifyDeviceSignature,
  type VerifyDeviceSignatureOptions,
} from "./device-signature.js";

const NOW = Date.UTC(2026, 4, 1, 9, 30);
const SKEW = 5 * 60_000;
const METHOD = "POST";
const PATH = "/api/v1/transfers?receiver=R-0001&dry-run=0";
const BODY = new TextEncoder().encode('{"file":"kenshin.csv","records":3}');
const NONCE = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);

interface Device {
  privateKey: CryptoKey;
  publicJwk: DevicePublicJwk;
  deviceId: string;
}

async function newDevice(): Promise<Device> {
  const pair = await generateDeviceKey();
  const publicJwk = await exportPublicJwk(pair.publicKey);
  return { privateKey: pair.privateKey, publicJwk, deviceId: await deviceIdFromJwk(publicJwk) };
}

let device: Device;
let other: Device;
let header: string;
let bodySha: string;

beforeAll(async () => {
  [device, other] = await Promise.all([newDevice(), newDevice()]);
  bodySha = await sha256Hex(BODY);
  header = await signRequest({
    method: METHOD,
    path: PATH,
    body: BODY,
    privateKey: device.privateKey,
    deviceId: device.deviceId,
    now: NOW,
    nonce: NONCE,
  });
});

function request(over: Partial<VerifyDeviceSignatureOptions> = {}): VerifyDeviceSignatureOptions {
  return {
    header,
    method: METHOD,
    path: PATH,
    bodySha256Hex: bodySha,
    publicJwk: device.publicJwk,
    now: NOW,
    maxSkewMs: SKEW,
    ...over,
  };
}

async function codeOf(over: Partial<VerifyDeviceSignatureOptions> = {}): Promise<string> {
  const r = await verifyDeviceSignature(request(over));
  return r.ok ? "OK" : r.code;
}

/** Replaces one header parameter's value, keeping everything else as signed. */
function withParam(name: string, value: string): string {
  return header
    .split(";")
    .map((p) => (p.startsWith(`${name}=`) ? `${name}=${value}` : p))
    .join(";");
}

function param(name: string): string {
  const part = header.split(";").find((p) => p.startsWith(`${name}=`));
  return (part as string).slice(name.length + 1);
}

describe("verifyDeviceSignature: round trip", () => {
  it("accepts what the client library signed, returning device ID, nonce and time", async () => {
    const r = await verifyDeviceSignature(request());
    expect(r).toEqual({ ok: true, deviceId: device.deviceId, nonce: base64UrlEncode(NONCE), ts: NOW });
  });

  it("accepts a body-less request signed over the empty string's digest, and a lower-case method", async () => {
    const h = await signRequest({
      method: "delete",
      path: "/api/v1/devices/1",
      privateKey: device.privateKey,
      deviceId: device.deviceId,
      now: NOW,
    });
    const empty = await sha256Hex(new Uint8Array());
    expect(
      await codeOf({ header: h, method: "DELETE", path: "/api/v1/devices/1", bodySha256Hex: empty }),
    ).toBe("OK");
    expect(
      await codeOf({ header: h, method: "delete", path: "/api/v1/devices/1", bodySha256Hex: empty }),
    ).toBe("OK");
  });

  it("accepts the expected device ID and ts exactly at ±maxSkew", async () => {
    expect(await codeOf({ expectedDeviceId: device.deviceId })).toBe("OK");
    expect(await codeOf({ now: NOW + SKEW })).toBe("OK");
    expect(await codeOf({ now: NOW - SKEW })).toBe("OK");
  });
});

describe("verifyDeviceSignature: any single changed field → DEVICE_SIGNATURE_INVALID", () => {
  const sig = (): Uint8Array => base64UrlDecode(param("sig")) as Uint8Array;
  const cases: [string, () => Partial<VerifyDeviceSignatureOptions>][] = [
    ["method", () => ({ method: "PUT" })],
    ["path", () => ({ path: PATH.replace("transfers", "transfer") })],
    ["query value", () => ({ path: PATH.replace("dry-run=0", "dry-run=1") })],
    ["query order", () => ({ path: "/api/v1/transfers?dry-run=0&receiver=R-0001" })],
    ["query dropped", () => ({ path: "/api/v1/transfers" })],
    ["body", () => ({ bodySha256Hex: bodySha.replace(/^./, (c) => (c === "0" ? "1" : "0")) })],
    ["ts + 1 ms", () => ({ header: withParam("ts", String(NOW + 1)) })],
    [
      "nonce",
      () => ({ header: withParam("nonce", base64UrlEncode(NONCE.map((b, i) => (i === 15 ? b ^ 1 : b)))) }),
    ],
    ["device ID in header", () => ({ header: withParam("id", other.deviceId) })],
    ["expected device ID", () => ({ expectedDeviceId: other.deviceId })],
    ["key of another device", () => ({ publicJwk: other.publicJwk })],
    [
      "key and ID of another device",
      () => ({ publicJwk: other.publicJwk, header: withParam("id", other.deviceId) }),
    ],
  ];
  for (let bit = 0; bit < 512; bit += 73) {
    cases.push([
      `signature bit ${bit}`,
      () => {
        const s = sig();
        s[bit >> 3] = (s[bit >> 3] as number) ^ (1 << (bit & 7));
        return { header: withParam("sig", base64UrlEncode(s)) };
      },
    ]);
  }
  for (const [name, change] of cases) {
    it(`when the ${name} differs`, async () => {
      expect(await codeOf(change())).toBe("DEVICE_SIGNATURE_INVALID");
    });
  }

  it("a signature by another device's key over the same request, under this device's ID", async () => {
    const forged = await signRequest({
      method: METHOD,
      path: PATH,
      body: BODY,
      privateKey: other.privateKey,
      deviceId: device.deviceId,
      now: NOW,
      nonce: NONCE,
    });
    expect(await codeOf({ header: forged })).toBe("DEVICE_SIGNATURE_INVALID");
  });
});

describe("verifyDeviceSignature: time", () => {
  it("a genuine signature outside ±maxSkew → DEVICE_SIGNATURE_STALE", async () => {
    expect(await codeOf({ now: NOW + SKEW + 1 })).toBe("DEVICE_SIGNATURE_STALE");
    expect(await codeOf({ now: NOW - SKEW - 1 })).toBe("DEVICE_SIGNATURE_STALE");
    expect(await codeOf({ now: NOW + 24 * 3600_000, maxSkewMs: 0 })).toBe("DEVICE_SIGNATURE_STALE");
  });

  it("a forged old timestamp is INVALID, not STALE: STALE vouches for the signature", async () => {
    expect(await codeOf({ header: withParam("ts", String(NOW - 10 * SKEW)) })).toBe(
      "DEVICE_SIGNATURE_INVALID",
    );
  });

  it("refuses nonsense server inputs loudly (caller bugs, not client errors)", async () => {
    await expect(verifyDeviceSignature(request({ maxSkewMs: -1 }))).rejects.toThrow(RangeError);
    await expect(verifyDeviceSignature(request({ now: Number.NaN }))).rejects.toThrow(RangeError);
    await expect(verifyDeviceSignature(request({ bodySha256Hex: "00" }))).rejects.toThrow(RangeError);
    await expect(
      verifyDeviceSignature(request({ publicJwk: { kty: "EC", crv: "P-256" } })),
    ).rejects.toMatchObject({
      code: "DEVICE_KEY_INVALID",
    });
  });
});

describe("parseDeviceSignatureHeader / malformed headers → DEVICE_SIGNATURE_MALFORMED", () => {
  it("parses the signed header into its fields", () => {
    const r = parseDeviceSignatureHeader(header);
    expect(r.ok && r.header).toMatchObject({
      version: "v1",
      deviceId: device.deviceId,
      ts: NOW,
      nonce: base64UrlEncode(NONCE),
    });
    expect(r.ok && r.header.signature.length).toBe(64);
  });

  it("accepts the parameters in any order", async () => {
    const [v, ...params] = header.split(";");
    expect(await codeOf({ header: [v, ...params.reverse()].join(";") })).toBe("OK");
  });

  it("refuses each named malformation", async () => {
    const sigText = param("sig");
    const bad: Record<string, string> = {
      empty: "",
      "version only": "v1",
      "other version": header.replace(/^v1/, "v2"),
      "upper-case version": header.replace(/^v1/, "V1"),
      "missing sig": header.replace(/;sig=[^;]*/, ""),
      "duplicate ts": `${header};ts=${NOW}`,
      "duplicate sig": `${header};sig=${sigText}`,
      "unknown parameter": `${header};alg=ES256`,
      "upper-case name": header.replace("nonce=", "NONCE="),
      "empty parameter": `${header};`,
      "no equals": `${header};x`,
      "space after ;": header.replace(";ts=", "; ts="),
      "trailing space": `${header} `,
      "ts leading zero": withParam("ts", `0${NOW}`),
      "ts negative": withParam("ts", `-${NOW}`),
      "ts fraction": withParam("ts", `${NOW}.5`),
      "ts beyond 2^53": withParam("ts", "99999999999999999"),
      "ts empty": withParam("ts", ""),
      "nonce 15 bytes": withParam("nonce", base64UrlEncode(new Uint8Array(15))),
      "nonce padded": withParam("nonce", `${param("nonce")}==`),
      "nonce non-canonical": withParam("nonce", `${param("nonce").slice(0, -1)}x`),
      "id 31 bytes": withParam("id", base64UrlEncode(new Uint8Array(31))),
      "sig DER-length": withParam("sig", base64UrlEncode(new Uint8Array(71))),
      "sig standard base64": withParam("sig", Buffer.from(sigText, "base64url").toString("base64")),
      "sig truncated": withParam("sig", sigText.slice(0, -1)),
      "too long": `${header}${"A".repeat(300)}`,
      "newline injection": withParam("nonce", `${param("nonce")}\nPOST`),
    };
    for (const [name, value] of Object.entries(bad)) {
      expect(parseDeviceSignatureHeader(value).ok, name).toBe(false);
      expect(await codeOf({ header: value }), name).toBe("DEVICE_SIGNATURE_MALFORMED");
    }
  });

  it("a request whose method or path cannot be canonicalised is MALFORMED", async () => {
    expect(await codeOf({ method: "PO ST" })).toBe("DEVICE_SIGNATURE_MALFORMED");
    expect(await codeOf({ path: "/a\nb" })).toBe("DEVICE_SIGNATURE_MALFORMED");
  });

  it("never throws on arbitrary strings, and refuses them", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: "binary", maxLength: 300 })),
        async (value) => {
          expect(parseDeviceSignatureHeader(value).ok).toBe(false);
          expect(await codeOf({ header: value })).toBe("DEVICE_SIGNATURE_MALFORMED");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never throws on header-shaped strings, and never accepts them", async () => {
    const b64 = (n: number) =>
      fc.string({
        unit: fc.constantFrom(..."AQgw_-xyz09=+/ ;\n".split("")),
        minLength: n - 2,
        maxLength: n + 2,
      });
    const part = fc.oneof(
      fc
        .tuple(
          fc.constantFrom("id", "ts", "nonce", "sig", "x", ""),
          fc.oneof(b64(43), b64(22), b64(86), fc.nat().map(String)),
        )
        .map(([k, v]) => `${k}=${v}`),
      fc.string({ maxLength: 10 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("v1", "v2", ""),
        fc.array(part, { maxLength: 6 }),
        async (v, parts) => {
          const value = [v, ...parts].join(";");
          expect(await codeOf({ header: value })).not.toBe("OK");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never accepts a signed header with one character changed", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: header.length - 1 }),
        fc.integer({ min: 0x20, max: 0x7e }),
        async (i, c) => {
          const changed = header.slice(0, i) + String.fromCharCode(c) + header.slice(i + 1);
          fc.pre(changed !== header);
          expect(["DEVICE_SIGNATURE_MALFORMED", "DEVICE_SIGNATURE_INVALID"]).toContain(
            await codeOf({ header: changed }),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("formatDeviceSignatureHeader and parse round-trip", () => {
    const r = parseDeviceSignatureHeader(header);
    if (!r.ok) throw new Error("signed header did not parse");
    const h = r.header;
    expect(
      formatDeviceSignatureHeader({
        deviceId: h.deviceId,
        ts: h.ts,
        nonce: h.nonce,
        sig: base64UrlEncode(h.signature),
      }),
    ).toBe(header);
  });
});
