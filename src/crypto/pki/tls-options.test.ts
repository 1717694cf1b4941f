import { createSecureContext } from "node:tls";
import { beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, type CaMaterial } from "./ca.js";
import { issueServerCertificate, type IssuedCertificate } from "./certificates.js";
import { createCrl } from "./crl.js";
import { PkiError } from "./errors.js";
import { tlsServerOptions } from "./tls-options.js";

let ca: CaMaterial;
let twin: CaMaterial;
let server: IssuedCertificate;
let crlPem: string;
const now = new Date();

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (e) {
    if (e instanceof PkiError) return e.code;
    throw e;
  }
  return undefined;
}

function input(): Parameters<typeof tlsServerOptions>[0] {
  return { caCertPem: ca.certPem, certPem: server.certPem, keyPem: server.keyPem, crlPem };
}

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: "kenshin test CA", now, validityDays: 30 });
  twin = await createCertificateAuthority({ commonName: "kenshin test CA", now, validityDays: 30 });
  server = await issueServerCertificate(ca, { hostNames: ["localhost"], now, validityDays: 30 });
  crlPem = await createCrl(ca, { revoked: [], now, nextUpdateDays: 1 });
});

describe("tlsServerOptions", () => {
  it("asks for TLS 1.3 only, AES-GCM suites in server order, a client certificate and the CA's CRL", () => {
    const options = tlsServerOptions(input());
    expect(options).toMatchObject({
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      ciphers: "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256",
      ecdhCurve: "X25519:P-256:P-384",
      honorCipherOrder: true,
      requestCert: true,
      rejectUnauthorized: true,
      ca: ca.certPem,
      crl: crlPem,
    });
    expect(() => createSecureContext(options)).not.toThrow();
  });

  it("a server key that does not match the certificate → PKI_KEY_MISMATCH", () => {
    expect(codeOf(() => tlsServerOptions({ ...input(), keyPem: ca.keyPem }))).toBe("PKI_KEY_MISMATCH");
  });

  it("a server key that is not a key → PKI_KEY_INVALID", () => {
    expect(codeOf(() => tlsServerOptions({ ...input(), keyPem: server.certPem }))).toBe("PKI_KEY_INVALID");
  });

  it("the server certificate given as the CA → PKI_NOT_A_CA", () => {
    expect(codeOf(() => tlsServerOptions({ ...input(), caCertPem: server.certPem }))).toBe("PKI_NOT_A_CA");
  });

  it("a CRL signed by another CA of the same name → PKI_ISSUER_MISMATCH", async () => {
    const other = await createCrl(twin, { revoked: [], now, nextUpdateDays: 1 });
    expect(codeOf(() => tlsServerOptions({ ...input(), crlPem: other }))).toBe("PKI_ISSUER_MISMATCH");
  });

  it("with `now` past the CRL's nextUpdate → PKI_CRL_EXPIRED; without `now` it is left to OpenSSL", () => {
    const later = new Date(now.getTime() + 2 * 86_400_000);
    expect(codeOf(() => tlsServerOptions({ ...input(), now: later }))).toBe("PKI_CRL_EXPIRED");
    expect(codeOf(() => tlsServerOptions(input()))).toBeUndefined();
  });
});
