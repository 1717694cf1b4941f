import { spawnSync } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, type CaMaterial } from "./ca.js";
import { issueClientCertificate, type IssuedCertificate } from "./certificates.js";
import { PkiError } from "./errors.js";
import { exportPkcs12, PKCS12_ITERATIONS } from "./pkcs12.js";

const PASSWORD = "健診-Pass_1";
const OPENSSL_MISSING = "openssl is not on PATH: the check that Debian's openssl 3 reads the file is skipped";
const opensslAvailable = spawnSync("openssl", ["version"], { encoding: "utf8" }).status === 0;
const NSS_MISSING =
  "pk12util (Debian libnss3-tools) is not on PATH: the NSS (Firefox/Chromium) import check is skipped";
const nssAvailable = spawnSync("pk12util", ["--help"], { encoding: "utf8" }).error === undefined;

let dir: string;
let ca: CaMaterial;
let alice: IssuedCertificate;
let bob: IssuedCertificate;
let p12Path: string;
let p12: Buffer;

/** Runs openssl with the password in the environment (never in argv), bounded in time. */
function openssl(
  args: string[],
  password: string,
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync("openssl", args, {
    encoding: "utf8",
    env: { ...process.env, P: password },
    timeout: 10_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function certificatesIn(pem: string): string[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((block) =>
    new X509Certificate(block).fingerprint256.toLowerCase().replaceAll(":", ""),
  );
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PkiError);
  expect((error as PkiError).code).toBe(code);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-pkcs12-"));
  const now = new Date();
  ca = await createCertificateAuthority({ commonName: "kenshin p12 test CA", now, validityDays: 30 });
  const client = {
    institutionId: "1310000001",
    institutionName: "テスト健診センター",
    now,
    validityDays: 30,
  };
  alice = await issueClientCertificate(ca, { loginId: "alice-01", ...client });
  bob = await issueClientCertificate(ca, { loginId: "bob-02", ...client });
  p12 = await exportPkcs12({
    certPem: alice.certPem,
    keyPem: alice.keyPem,
    caCertPem: ca.certPem,
    password: PASSWORD,
    friendlyName: "alice-01 (テスト健診センター)",
  });
  p12Path = join(dir, "alice.p12");
  writeFileSync(p12Path, p12, { mode: 0o600 });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("exportPkcs12 read by openssl", () => {
  it("openssl pkcs12 -passin env:P -nokeys lists the client and CA certificates", (ctx) => {
    if (!opensslAvailable) ctx.skip(OPENSSL_MISSING);
    const result = openssl(["pkcs12", "-in", p12Path, "-passin", "env:P", "-nokeys"], PASSWORD);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.status).toBe(0);
    const caFingerprint = new X509Certificate(ca.certPem).fingerprint256.toLowerCase().replaceAll(":", "");
    expect(certificatesIn(result.stdout).sort()).toEqual([alice.fingerprintSha256, caFingerprint].sort());
    expect(result.stdout).toContain("friendlyName: alice-01");
  });

  it("uses PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC for key and certificates, and an HMAC-SHA256 MAC", (ctx) => {
    if (!opensslAvailable) ctx.skip(OPENSSL_MISSING);
    const result = openssl(["pkcs12", "-in", p12Path, "-passin", "env:P", "-info", "-noout"], PASSWORD);
    expect(result.status).toBe(0);
    const pbes2 = `PBES2, PBKDF2, AES-256-CBC, Iteration ${PKCS12_ITERATIONS}, PRF hmacWithSHA256`;
    expect(result.stderr).toContain(`MAC: sha256, Iteration ${PKCS12_ITERATIONS}`);
    expect(result.stderr).toContain(`PKCS7 Encrypted data: ${pbes2}`);
    expect(result.stderr).toContain(`Shrouded Keybag: ${pbes2}`);
  });

  it("gives back the private key that belongs to the certificate", (ctx) => {
    if (!opensslAvailable) ctx.skip(OPENSSL_MISSING);
    const result = openssl(
      ["pkcs12", "-in", p12Path, "-passin", "env:P", "-nocerts", "-nodes", "-passout", "pass:"],
      PASSWORD,
    );
    expect(result.status).toBe(0);
    const key = createPrivateKey(result.stdout);
    expect(new X509Certificate(alice.certPem).checkPrivateKey(key)).toBe(true);
  });

  it("fails the MAC check with a wrong password", (ctx) => {
    if (!opensslAvailable) ctx.skip(OPENSSL_MISSING);
    const result = openssl(["pkcs12", "-in", p12Path, "-passin", "env:P", "-nokeys"], "wrong-Pass_1");
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/mac verify/i);
  });
});

describe("exportPkcs12 read by NSS, the store of Firefox and of Chromium on Linux", () => {
  it("pk12util imports the key and certificate into a fresh NSS database", (ctx) => {
    if (!nssAvailable) ctx.skip(NSS_MISSING);
    const db = `sql:${join(dir, "nssdb")}`;
    const passwordFile = join(dir, "nss-password");
    writeFileSync(passwordFile, PASSWORD, { mode: 0o600 });
    const run = (tool: string, args: string[]): string => {
      const result = spawnSync(tool, args, { encoding: "utf8", timeout: 10_000 });
      expect(result.status, `${tool} ${args.join(" ")}: ${result.stderr}`).toBe(0);
      return result.stdout;
    };
    mkdirSync(join(dir, "nssdb"));
    run("certutil", ["-N", "-d", db, "--empty-password"]);
    run("pk12util", ["-i", p12Path, "-d", db, "-w", passwordFile]);
    expect(run("certutil", ["-L", "-d", db])).toMatch(/alice-01 \(テスト健診センター\)\s+u,u,u/);
    expect(run("certutil", ["-K", "-d", db])).toContain("alice-01");
  });
});

describe("exportPkcs12 read by Node", () => {
  it("loads as tls pfx with the passphrase and refuses a wrong one", () => {
    expect(() => createSecureContext({ pfx: p12, passphrase: PASSWORD })).not.toThrow();
    expect(() => createSecureContext({ pfx: p12, passphrase: "wrong-Pass_1" })).toThrow(/mac verify/i);
  });

  it("draws fresh salts and IVs: two exports of the same input differ", async () => {
    const again = await exportPkcs12({
      certPem: alice.certPem,
      keyPem: alice.keyPem,
      caCertPem: ca.certPem,
      password: PASSWORD,
      friendlyName: "alice-01 (テスト健診センター)",
    });
    expect(again.equals(p12)).toBe(false);
  });
});

describe("exportPkcs12 refuses", () => {
  const input = (): Parameters<typeof exportPkcs12>[0] => ({
    certPem: alice.certPem,
    keyPem: alice.keyPem,
    caCertPem: ca.certPem,
    password: PASSWORD,
    friendlyName: "alice-01",
  });

  it("an empty password → PKI_PASSWORD_INVALID", async () => {
    await expectCode(exportPkcs12({ ...input(), password: "" }), "PKI_PASSWORD_INVALID");
  });

  it("a password beyond the BMP (no BMPString form for the MAC) → PKI_PASSWORD_INVALID", async () => {
    await expectCode(exportPkcs12({ ...input(), password: "pass-😀-1" }), "PKI_PASSWORD_INVALID");
  });

  it("another certificate's key → PKI_KEY_MISMATCH", async () => {
    await expectCode(exportPkcs12({ ...input(), keyPem: bob.keyPem }), "PKI_KEY_MISMATCH");
  });

  it("a CA that did not issue the certificate → PKI_ISSUER_MISMATCH", async () => {
    const other = await createCertificateAuthority({ commonName: "other", now: new Date(), validityDays: 1 });
    await expectCode(exportPkcs12({ ...input(), caCertPem: other.certPem }), "PKI_ISSUER_MISMATCH");
  });

  it("a friendly name with a control character → PKI_OPTION_INVALID", async () => {
    await expectCode(exportPkcs12({ ...input(), friendlyName: "a\nb" }), "PKI_OPTION_INVALID");
  });
});
