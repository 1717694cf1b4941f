import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, type CaMaterial } from "./ca.js";
import { issueClientCertificate, type IssuedCertificate } from "./certificates.js";
import { createCrl } from "./crl.js";
import { checkCrl } from "./crl-check.js";
import { PkiError } from "./errors.js";
import { CLOCK_SKEW_MS } from "./validity.js";
import { x509 } from "./x509-provider.js";

const NOW = new Date("2026-04-01T09:00:00Z");
const DAY_MS = 86_400_000;
const OPENSSL_MISSING = "openssl is not on PATH: the openssl crl cross-check is skipped";
const opensslAvailable = spawnSync("openssl", ["version"], { encoding: "utf8" }).status === 0;

let dir: string;
let ca: CaMaterial;
let twin: CaMaterial;
let alice: IssuedCertificate;
let bob: IssuedCertificate;
let crlPem: string;

function expectCode(run: () => unknown, code: string): void {
  let error: unknown;
  try {
    run();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(PkiError);
  expect((error as PkiError).code).toBe(code);
}

async function expectAsyncCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PkiError);
  expect((error as PkiError).code).toBe(code);
}

/** The same PEM with one byte of its DER changed at `offsetFromEnd` (1 = last byte). */
function flipByte(pem: string, offsetFromEnd: number): string {
  const der = Buffer.from(x509.PemConverter.decodeFirst(pem));
  const index = der.length - offsetFromEnd;
  der[index] = (der[index] ?? 0) ^ 0x01;
  return x509.PemConverter.encode(der, "X509 CRL");
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-crl-"));
  ca = await createCertificateAuthority({ commonName: "kenshin-exchange CA", now: NOW, validityDays: 3650 });
  // Same subject name, different key: only the signature tells the two apart.
  twin = await createCertificateAuthority({
    commonName: "kenshin-exchange CA",
    now: NOW,
    validityDays: 3650,
  });
  const input = {
    institutionId: "1310000001",
    institutionName: "テスト健診センター",
    now: NOW,
    validityDays: 365,
  };
  alice = await issueClientCertificate(ca, { loginId: "alice-01", ...input });
  bob = await issueClientCertificate(ca, { loginId: "bob-02", ...input });
  crlPem = await createCrl(ca, {
    revoked: [
      { serialHex: alice.serialHex, revokedAt: new Date("2026-03-31T00:00:00Z"), reason: "keyCompromise" },
      { serialHex: bob.serialHex.toUpperCase(), revokedAt: new Date("2026-03-31T01:00:00Z") },
    ],
    now: NOW,
    nextUpdateDays: 7,
  });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("createCrl", () => {
  it("writes one PEM block labelled X509 CRL (RFC 7468 §6), the label OpenSSL reads", () => {
    expect(crlPem.startsWith("-----BEGIN X509 CRL-----")).toBe(true);
    expect(crlPem.trimEnd().endsWith("-----END X509 CRL-----")).toBe(true);
  });

  it("is a v2 CRL with the revoked serials, dates, AKI and cRLNumber, signed by the CA", async () => {
    const crl = new x509.X509Crl(crlPem);
    expect(crl.version).toBe(1); // v2 is encoded as 1 (RFC 5280 §5.1.2.1)
    expect(crl.thisUpdate.getTime()).toBe(NOW.getTime() - CLOCK_SKEW_MS);
    expect(crl.nextUpdate?.getTime()).toBe(NOW.getTime() + 7 * DAY_MS);
    expect(crl.entries.map((e) => e.serialNumber.toLowerCase())).toEqual([alice.serialHex, bob.serialHex]);
    expect(crl.entries[0]?.reason).toBe(x509.X509CrlReason.keyCompromise);
    expect(crl.entries[1]?.reason).toBeUndefined();
    expect(crl.entries[0]?.revocationDate.toISOString()).toBe("2026-03-31T00:00:00.000Z");
    expect(crl.getExtension("2.5.29.20")).not.toBeNull();
    const aki = crl.getExtension(x509.AuthorityKeyIdentifierExtension);
    const ski = new x509.X509Certificate(ca.certPem).getExtension(x509.SubjectKeyIdentifierExtension);
    expect(aki?.keyId).toBe(ski?.keyId);
    expect(await crl.verify({ publicKey: new x509.X509Certificate(ca.certPem).publicKey })).toBe(true);
  });

  it("is verified by openssl crl against the CA, with cRLNumber = now in ms and the reason code", (ctx) => {
    if (!opensslAvailable) ctx.skip(OPENSSL_MISSING);
    writeFileSync(join(dir, "ca.pem"), ca.certPem);
    writeFileSync(join(dir, "crl.pem"), crlPem);
    const result = spawnSync(
      "openssl",
      ["crl", "-in", join(dir, "crl.pem"), "-CAfile", join(dir, "ca.pem"), "-noout", "-text"],
      { encoding: "utf8", timeout: 10_000 },
    );
    expect(result.status).toBe(0);
    expect(result.stderr).toContain("verify OK");
    expect(result.stdout).toContain("Version 2 (0x1)");
    expect(result.stdout).toMatch(new RegExp(`X509v3 CRL Number:\\s+${NOW.getTime()}`));
    expect(result.stdout).toContain("Key Compromise");
    expect(result.stdout.toLowerCase()).toContain(bob.serialHex);
  });

  it("takes an explicit cRLNumber", async () => {
    const pem = await createCrl(ca, { revoked: [], now: NOW, nextUpdateDays: 1, crlNumber: 42n });
    const ext = new x509.X509Crl(pem).getExtension("2.5.29.20");
    expect(Buffer.from(ext?.value ?? new ArrayBuffer(0)).toString("hex")).toBe("02012a");
  });

  it.each([
    ["a duplicate serial", "PKI_SERIAL_INVALID", () => [alice.serialHex, alice.serialHex]],
    ["a negative serial", "PKI_SERIAL_INVALID", () => ["ff01"]],
    ["a serial with a redundant leading 00", "PKI_SERIAL_INVALID", () => ["0001"]],
    ["a non-hex serial", "PKI_SERIAL_INVALID", () => ["zz"]],
  ])("refuses %s → %s", async (_, code, serials) => {
    const revoked = serials().map((serialHex) => ({ serialHex, revokedAt: NOW }));
    await expectAsyncCode(createCrl(ca, { revoked, now: NOW, nextUpdateDays: 1 }), code);
  });

  it("refuses an unknown reason (even one inherited from Object.prototype) → PKI_OPTION_INVALID", async () => {
    const revoked = [{ serialHex: alice.serialHex, revokedAt: NOW, reason: "toString" }];
    await expectAsyncCode(
      createCrl(ca, { revoked, now: NOW, nextUpdateDays: 1 } as Parameters<typeof createCrl>[1]),
      "PKI_OPTION_INVALID",
    );
  });

  it("refuses nextUpdateDays 0 and a negative cRLNumber → PKI_OPTION_INVALID", async () => {
    await expectAsyncCode(createCrl(ca, { revoked: [], now: NOW, nextUpdateDays: 0 }), "PKI_OPTION_INVALID");
    await expectAsyncCode(
      createCrl(ca, { revoked: [], now: NOW, nextUpdateDays: 1, crlNumber: -1n }),
      "PKI_OPTION_INVALID",
    );
  });
});

describe("checkCrl", () => {
  it("returns the dates and revoked serials of a CRL signed by the CA", () => {
    const summary = checkCrl({ caCertPem: ca.certPem, crlPem, now: NOW });
    expect([...summary.revokedSerials]).toEqual([alice.serialHex, bob.serialHex]);
    expect(summary.nextUpdate?.getTime()).toBe(NOW.getTime() + 7 * DAY_MS);
  });

  it("a CRL of another CA with the same name → PKI_ISSUER_MISMATCH", async () => {
    const other = await createCrl(twin, { revoked: [], now: NOW, nextUpdateDays: 1 });
    expectCode(() => checkCrl({ caCertPem: ca.certPem, crlPem: other }), "PKI_ISSUER_MISMATCH");
  });

  it("a flipped bit in the signature or in the revoked list → PKI_ISSUER_MISMATCH", () => {
    expectCode(() => checkCrl({ caCertPem: ca.certPem, crlPem: flipByte(crlPem, 2) }), "PKI_ISSUER_MISMATCH");
    // 120 bytes from the end lies inside tbsCertList (the signature part is about 80 bytes).
    expectCode(
      () => checkCrl({ caCertPem: ca.certPem, crlPem: flipByte(crlPem, 120) }),
      "PKI_ISSUER_MISMATCH",
    );
  });

  it("past nextUpdate → PKI_CRL_EXPIRED; before thisUpdate → PKI_CRL_INVALID", () => {
    const late = new Date(NOW.getTime() + 7 * DAY_MS);
    expectCode(() => checkCrl({ caCertPem: ca.certPem, crlPem, now: late }), "PKI_CRL_EXPIRED");
    const early = new Date(NOW.getTime() - 2 * CLOCK_SKEW_MS - 1000);
    expectCode(() => checkCrl({ caCertPem: ca.certPem, crlPem, now: early }), "PKI_CRL_INVALID");
  });

  it.each([
    ["labelled CRL instead of X509 CRL", () => crlPem.replaceAll("X509 CRL", "CRL")],
    ["a certificate", () => alice.certPem],
    ["two CRLs", () => `${crlPem}\n${crlPem}`],
    ["empty", () => ""],
  ])("a CRL PEM that is %s → PKI_CRL_INVALID", (_, pem) => {
    expectCode(() => checkCrl({ caCertPem: ca.certPem, crlPem: pem() }), "PKI_CRL_INVALID");
  });

  it("a leaf certificate given as the CA → PKI_NOT_A_CA", () => {
    expectCode(() => checkCrl({ caCertPem: alice.certPem, crlPem }), "PKI_NOT_A_CA");
  });
});
