import { spawnSync } from "node:child_process";
import { createPrivateKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, type CaMaterial } from "./ca.js";
import { issueClientCertificate, issueServerCertificate, type IssuedCertificate } from "./certificates.js";
import { PkiError } from "./errors.js";
import { CLOCK_SKEW_MS } from "./validity.js";
import { x509 } from "./x509-provider.js";

const NOW = new Date("2026-04-01T09:00:00Z");
const DAY_MS = 86_400_000;
const OPENSSL_MISSING = "openssl is not on PATH: the openssl verify cross-check is skipped";
const opensslAvailable = spawnSync("openssl", ["version"], { encoding: "utf8" }).status === 0;

let dir: string;
let ca: CaMaterial;
let server: IssuedCertificate;
let client: IssuedCertificate;
const clientInput = {
  loginId: "kenshin-0001",
  institutionId: "1310000001",
  institutionName: "医療法人 𠮷田会 テスト健診センター",
  now: NOW,
  validityDays: 365,
};

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PkiError);
  expect((error as PkiError).code).toBe(code);
}

/** `openssl verify` at NOW, with the given purpose; the exit status and output. */
function opensslVerify(certPem: string, purpose: string): { ok: boolean; output: string } {
  const caFile = join(dir, "ca.pem");
  const certFile = join(dir, "leaf.pem");
  writeFileSync(caFile, ca.certPem);
  writeFileSync(certFile, certPem);
  const attime = String(Math.floor(NOW.getTime() / 1000) + 60);
  const result = spawnSync(
    "openssl",
    ["verify", "-attime", attime, "-x509_strict", "-purpose", purpose, "-CAfile", caFile, certFile],
    { encoding: "utf8", timeout: 10_000 },
  );
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-certs-"));
  ca = await createCertificateAuthority({ commonName: "kenshin-exchange CA", now: NOW, validityDays: 3650 });
  server = await issueServerCertificate(ca, {
    hostNames: ["LocalHost", "kenshin.example.jp", "127.0.0.1", "::1", "localhost"],
    now: NOW,
    validityDays: 397,
  });
  client = await issueClientCertificate(ca, clientInput);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("createCertificateAuthority", () => {
  it("makes a self-signed P-256 CA: cA (critical, pathLen 0), keyCertSign + cRLSign (critical), SKI", () => {
    const node = new X509Certificate(ca.certPem);
    expect(node.ca).toBe(true);
    expect(node.subject).toBe("CN=kenshin-exchange CA");
    expect(node.checkIssued(node)).toBe(true);
    expect(node.verify(node.publicKey)).toBe(true);
    expect(node.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(node.checkPrivateKey(createPrivateKey(ca.keyPem))).toBe(true);
    const cert = new x509.X509Certificate(ca.certPem);
    expect(cert.signatureAlgorithm).toMatchObject({ name: "ECDSA", hash: { name: "SHA-256" } });
    const basic = cert.getExtension(x509.BasicConstraintsExtension);
    expect([basic?.ca, basic?.pathLength, basic?.critical]).toEqual([true, 0, true]);
    const usage = cert.getExtension(x509.KeyUsagesExtension);
    expect(usage?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(usage?.critical).toBe(true);
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)).not.toBeNull();
  });

  it("is valid from five minutes before now for validityDays", () => {
    const cert = new x509.X509Certificate(ca.certPem);
    expect(cert.notBefore.getTime()).toBe(NOW.getTime() - CLOCK_SKEW_MS);
    expect(cert.notAfter.getTime()).toBe(NOW.getTime() + 3650 * DAY_MS);
  });
});

describe("issueServerCertificate", () => {
  it("puts every host name in the SAN (DNS lower-cased, duplicates dropped) and allows serverAuth only", () => {
    const node = new X509Certificate(server.certPem);
    expect(node.subject).toBe("CN=localhost");
    expect(node.subjectAltName).toBe(
      "DNS:localhost, DNS:kenshin.example.jp, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
    );
    expect(node.checkHost("kenshin.example.jp")).toBe("kenshin.example.jp");
    expect(node.checkIP("::1")).toBe("::1");
    expect(node.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(node.ca).toBe(false);
  });

  it("is signed by the CA, with the CA's key identifier as authorityKeyIdentifier", () => {
    const node = new X509Certificate(server.certPem);
    const caNode = new X509Certificate(ca.certPem);
    expect(node.checkIssued(caNode)).toBe(true);
    expect(node.verify(caNode.publicKey)).toBe(true);
    const aki = new x509.X509Certificate(server.certPem).getExtension(x509.AuthorityKeyIdentifierExtension);
    const ski = new x509.X509Certificate(ca.certPem).getExtension(x509.SubjectKeyIdentifierExtension);
    expect(aki?.keyId).toBe(ski?.keyId);
  });

  it("passes openssl verify -x509_strict -purpose sslserver", (ctx) => {
    if (!opensslAvailable) ctx.skip(OPENSSL_MISSING);
    const result = opensslVerify(server.certPem, "sslserver");
    expect(result.output).toContain("OK");
    expect(result.ok).toBe(true);
  });
});

describe("issueClientCertificate", () => {
  it("names the login ID (CN), the institution (O, UTF8String) and the institution ID (SAN URI)", () => {
    const cert = new x509.X509Certificate(client.certPem);
    expect(cert.subjectName.getField("CN")).toEqual(["kenshin-0001"]);
    expect(cert.subjectName.getField("O")).toEqual(["医療法人 𠮷田会 テスト健診センター"]);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    expect(san?.names.toJSON()).toEqual([{ type: "url", value: "urn:kenshin:institution:1310000001" }]);
    const node = new X509Certificate(client.certPem);
    expect(node.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    const usage = cert.getExtension(x509.KeyUsagesExtension);
    expect([usage?.usages, usage?.critical]).toEqual([x509.KeyUsageFlags.digitalSignature, true]);
  });

  it("reports serial, fingerprint and validity exactly as in the certificate", () => {
    const node = new X509Certificate(client.certPem);
    expect(client.serialHex).toMatch(/^[4-7][0-9a-f]{31}$/);
    expect(client.serialHex).toBe(node.serialNumber.toLowerCase());
    expect(client.fingerprintSha256).toBe(node.fingerprint256.replaceAll(":", "").toLowerCase());
    expect(client.notBefore.getTime()).toBe(NOW.getTime() - CLOCK_SKEW_MS);
    expect(client.notAfter.getTime()).toBe(NOW.getTime() + 365 * DAY_MS);
    expect(node.checkPrivateKey(createPrivateKey(client.keyPem))).toBe(true);
  });

  it("passes openssl verify for sslclient and fails it for sslserver", (ctx) => {
    if (!opensslAvailable) ctx.skip(OPENSSL_MISSING);
    expect(opensslVerify(client.certPem, "sslclient").ok).toBe(true);
    const asServer = opensslVerify(client.certPem, "sslserver");
    expect(asServer.ok).toBe(false);
    expect(asServer.output).toMatch(/unsuitable certificate purpose/i);
  });

  it("draws a new serial and key each time", async () => {
    const again = await issueClientCertificate(ca, clientInput);
    expect(again.serialHex).not.toBe(client.serialHex);
    expect(again.keyPem).not.toBe(client.keyPem);
  });
});

describe("refusals", () => {
  const serverInput = { hostNames: ["localhost"], now: NOW, validityDays: 30 };

  it.each([0, -1, 1.5, 10_001, Number.NaN])("validityDays %s → PKI_OPTION_INVALID", async (validityDays) => {
    await expectCode(issueServerCertificate(ca, { ...serverInput, validityDays }), "PKI_OPTION_INVALID");
  });

  it("an invalid Date → PKI_OPTION_INVALID", async () => {
    await expectCode(
      issueServerCertificate(ca, { ...serverInput, now: new Date("x") }),
      "PKI_OPTION_INVALID",
    );
  });

  it.each([[[]], [["*.example.jp"]], [["a b"]], [["-bad.example.jp"]], [[""]], [["a..b"]]])(
    "hostNames %j → PKI_OPTION_INVALID",
    async (hostNames) => {
      await expectCode(issueServerCertificate(ca, { ...serverInput, hostNames }), "PKI_OPTION_INVALID");
    },
  );

  it.each(["", " padded", "a\u202eb", "tab\tid", "x".repeat(65)])(
    "loginId %j → PKI_OPTION_INVALID",
    async (loginId) => {
      await expectCode(issueClientCertificate(ca, { ...clientInput, loginId }), "PKI_OPTION_INVALID");
    },
  );

  it.each(["", "a/b", "健診", "-1", "a:b", "x".repeat(65)])(
    "institutionId %j → PKI_OPTION_INVALID",
    async (institutionId) => {
      await expectCode(issueClientCertificate(ca, { ...clientInput, institutionId }), "PKI_OPTION_INVALID");
    },
  );

  it("a certificate that would outlive the CA → PKI_OPTION_INVALID", async () => {
    const later = new Date(NOW.getTime() + 3400 * DAY_MS); // + 365 days > the CA's 3650
    await expectCode(issueClientCertificate(ca, { ...clientInput, now: later }), "PKI_OPTION_INVALID");
  });

  it("the key of another CA → PKI_KEY_MISMATCH", async () => {
    const other = await createCertificateAuthority({ commonName: "other", now: NOW, validityDays: 30 });
    await expectCode(
      issueServerCertificate({ ...ca, keyPem: other.keyPem }, serverInput),
      "PKI_KEY_MISMATCH",
    );
  });

  it("a client certificate used as the CA → PKI_NOT_A_CA", async () => {
    await expectCode(issueServerCertificate(client, serverInput), "PKI_NOT_A_CA");
  });

  it.each([
    ["not PEM", (): string => "hello"],
    ["two certificates", (): string => `${ca.certPem}\n${server.certPem}`],
    ["a key instead", (): string => ca.keyPem],
  ])("a CA certificate that is %s → PKI_CERT_INVALID", async (_, certPem) => {
    await expectCode(issueServerCertificate({ ...ca, certPem: certPem() }, serverInput), "PKI_CERT_INVALID");
  });

  it("a P-384 or an encrypted CA key → PKI_KEY_INVALID", async () => {
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" })
      .privateKey.export({ type: "pkcs8", format: "pem" })
      .toString();
    await expectCode(issueServerCertificate({ ...ca, keyPem: p384 }, serverInput), "PKI_KEY_INVALID");
    const encrypted = createPrivateKey(ca.keyPem)
      .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "secret" })
      .toString();
    await expectCode(issueServerCertificate({ ...ca, keyPem: encrypted }, serverInput), "PKI_KEY_INVALID");
  });
});
