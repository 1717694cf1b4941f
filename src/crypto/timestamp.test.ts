import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as jose from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signDetachedJws, verifyDetachedJws } from "./detached-jws.js";
import { createCertificateAuthority } from "./pki/ca.js";
import {
  issueServerCertificate,
  issueSigningCertificate,
  type IssuedCertificate,
} from "./pki/certificates.js";
import { importSigningKey, parseP256PrivateKey } from "./pki/keys.js";
import { issueTimeStamp, verifyTimeStamp } from "./timestamp.js";

const dir = mkdtempSync(join(tmpdir(), "kenshin-tsa-"));
let ca: { certPem: string; keyPem: string };
let otherCa: { certPem: string; keyPem: string };
let tsa: IssuedCertificate;
let seal: IssuedCertificate;
const now = new Date();

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: "test CA", now, validityDays: 3650 });
  otherCa = await createCertificateAuthority({ commonName: "other CA", now, validityDays: 3650 });
  const base = { organizationName: "テスト事務局", now, validityDays: 365 };
  tsa = await issueSigningCertificate(ca, { ...base, purpose: "tsa", commonName: "kenshin TSA node-1" });
  seal = await issueSigningCertificate(ca, { ...base, purpose: "seal", commonName: "kenshin seal node-1" });
  writeFileSync(join(dir, "ca.pem"), ca.certPem);
}, 60_000);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const sha256 = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());

function opensslVerify(response: Uint8Array, data: Uint8Array) {
  const name = Math.random().toString(36).slice(2);
  writeFileSync(join(dir, `${name}.tsr`), response);
  writeFileSync(join(dir, `${name}.dat`), data);
  return spawnSync(
    "openssl",
    [
      "ts",
      "-verify",
      "-in",
      join(dir, `${name}.tsr`),
      "-data",
      join(dir, `${name}.dat`),
      "-CAfile",
      join(dir, "ca.pem"),
    ],
    { encoding: "utf8", timeout: 30_000 },
  );
}

describe("RFC 3161 time stamps from the built-in TSA", () => {
  it("openssl ts -verify accepts the token for the stamped data, and refuses it for one changed byte", async () => {
    const data = new TextEncoder().encode("checkpoint body\n");
    const key = await importSigningKey(parseP256PrivateKey(tsa.keyPem));
    const response = await issueTimeStamp(
      { key, certPem: tsa.certPem },
      { digest: sha256(data), genTime: now },
    );
    const ok = opensslVerify(response, data);
    expect(ok.stdout + ok.stderr).toContain("Verification: OK");
    expect(ok.status).toBe(0);
    const changed = Uint8Array.from(data);
    changed[0] = (changed[0] ?? 0) ^ 1;
    expect(opensslVerify(response, changed).status).not.toBe(0);
  });

  it("a random serial that starts with zero bits is still minimal DER (openssl refused such tokens now and then)", async () => {
    const data = new TextEncoder().encode("serial\n");
    const key = await importSigningKey(parseP256PrivateKey(tsa.keyPem));
    for (const first of [0x00, 0x80]) {
      const serial = new Uint8Array(16).fill(0x11);
      serial[0] = first;
      serial[1] = 0x05;
      const response = await issueTimeStamp(
        { key, certPem: tsa.certPem },
        { digest: sha256(data), genTime: now, serial },
      );
      const ok = opensslVerify(response, data);
      expect(ok.stdout + ok.stderr).toContain("Verification: OK");
    }
  });

  it("our verifier reads the time and the TSA, and refuses another digest, another CA, a non-TSA certificate", async () => {
    const data = new TextEncoder().encode("x");
    const key = await importSigningKey(parseP256PrivateKey(tsa.keyPem));
    const genTime = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const response = await issueTimeStamp({ key, certPem: tsa.certPem }, { digest: sha256(data), genTime });
    const v = await verifyTimeStamp(response, { data, caPem: ca.certPem });
    // As stored (base64 in a ledger entry) and read back into a pooled Buffer, it still verifies.
    const pooled = Buffer.from(Buffer.from(response).toString("base64"), "base64");
    expect((await verifyTimeStamp(pooled, { data: Buffer.from(data), caPem: ca.certPem })).serial).toBe(
      v.serial,
    );
    expect(v.genTime.getTime()).toBe(genTime.getTime());
    expect(v.tsa).toContain("kenshin TSA node-1");
    await expect(
      verifyTimeStamp(response, { data: new Uint8Array([1]), caPem: ca.certPem }),
    ).rejects.toMatchObject({ code: "CRYPTO_TIMESTAMP_INVALID" });
    await expect(verifyTimeStamp(response, { data, caPem: otherCa.certPem })).rejects.toMatchObject({
      code: "CRYPTO_TIMESTAMP_INVALID",
    });
    const server = await issueServerCertificate(ca, { hostNames: ["localhost"], now, validityDays: 30 });
    const wrongKey = await importSigningKey(parseP256PrivateKey(server.keyPem));
    const fake = await issueTimeStamp(
      { key: wrongKey, certPem: server.certPem },
      { digest: sha256(data), genTime },
    );
    await expect(verifyTimeStamp(fake, { data, caPem: ca.certPem })).rejects.toMatchObject({
      code: "CRYPTO_TIMESTAMP_INVALID",
    });
    const flipped = Uint8Array.from(response);
    flipped[flipped.length - 5] = (flipped[flipped.length - 5] ?? 0) ^ 1;
    await expect(verifyTimeStamp(flipped, { data, caPem: ca.certPem })).rejects.toMatchObject({
      code: "CRYPTO_TIMESTAMP_INVALID",
    });
  });
});

describe("detached JWS (RFC 7515 + RFC 7797 b64=false, ES256)", () => {
  const payload = new TextEncoder().encode("受診者ID,身長\nK000001,170.1\n");

  it("verifies here and with jose (an independent implementation); a one-byte change fails both", async () => {
    const jws = signDetachedJws({
      payload,
      key: parseP256PrivateKey(seal.keyPem).keyObject,
      chainPem: [seal.certPem, ca.certPem],
      now,
    });
    const [protectedHeader = "", , signature = ""] = jws.split(".");
    const v = verifyDetachedJws(jws, payload, { caPem: ca.certPem });
    expect(v.subject).toContain("kenshin seal node-1");
    expect(v.header).toMatchObject({ alg: "ES256", b64: false, crit: ["b64"] });
    const publicKey = await jose.importX509(seal.certPem, "ES256");
    const verified = await jose.flattenedVerify(
      { protected: protectedHeader, payload, signature },
      publicKey,
    );
    expect(Buffer.from(verified.payload).equals(Buffer.from(payload))).toBe(true);

    const changed = Uint8Array.from(payload);
    changed[changed.length - 2] = (changed[changed.length - 2] ?? 0) ^ 1;
    expect(() => verifyDetachedJws(jws, changed, { caPem: ca.certPem })).toThrow(
      expect.objectContaining({ code: "CRYPTO_JWS_INVALID" }) as Error,
    );
    await expect(
      jose.flattenedVerify({ protected: protectedHeader, payload: changed, signature }, publicKey),
    ).rejects.toThrow();
  });

  it("a JWS made by jose with b64=false verifies here (the two agree on the signing input)", async () => {
    const key = await jose.importPKCS8(seal.keyPem, "ES256");
    const x5c = [
      Buffer.from(new (await import("node:crypto")).X509Certificate(seal.certPem).raw).toString("base64"),
    ];
    const kid = createHash("sha256")
      .update(Buffer.from(x5c[0] ?? "", "base64"))
      .digest("hex");
    const flat = await new jose.FlattenedSign(payload)
      .setProtectedHeader({ alg: "ES256", b64: false, crit: ["b64"], kid, x5c })
      .sign(key);
    expect(
      verifyDetachedJws(`${flat.protected ?? ""}..${flat.signature}`, payload, { caPem: ca.certPem })
        .certificateSha256,
    ).toBe(kid);
  });

  it("refuses a signer from another CA, another algorithm, an encoded payload", async () => {
    const foreignCa = await createCertificateAuthority({ commonName: "x", now, validityDays: 3650 });
    const foreign = await issueSigningCertificate(foreignCa, {
      purpose: "seal",
      organizationName: "x",
      commonName: "x",
      now,
      validityDays: 30,
    });
    const jws = signDetachedJws({
      payload,
      key: parseP256PrivateKey(foreign.keyPem).keyObject,
      chainPem: [foreign.certPem],
      now,
    });
    expect(() => verifyDetachedJws(jws, payload, { caPem: ca.certPem })).toThrow(
      expect.objectContaining({ code: "CRYPTO_JWS_UNTRUSTED" }) as Error,
    );
    const [h = "", , s = ""] = jws.split(".");
    const header = JSON.parse(Buffer.from(h, "base64url").toString()) as Record<string, unknown>;
    for (const bad of [
      { ...header, alg: "HS256" },
      { ...header, b64: true },
      { ...header, crit: [] },
    ]) {
      const forged = `${Buffer.from(JSON.stringify(bad)).toString("base64url")}..${s}`;
      expect(() => verifyDetachedJws(forged, payload, { caPem: foreignCa.certPem })).toThrow(
        expect.objectContaining({ code: "CRYPTO_JWS_INVALID" }) as Error,
      );
    }
    expect(() =>
      verifyDetachedJws(`${h}.${Buffer.from(payload).toString("base64url")}.${s}`, payload, {
        caPem: foreignCa.certPem,
      }),
    ).toThrow();
  });
});
