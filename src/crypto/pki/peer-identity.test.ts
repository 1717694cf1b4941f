import type { PeerCertificate } from "node:tls";
import { beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, type CaMaterial } from "./ca.js";
import { issueClientCertificate, issueServerCertificate, type IssuedCertificate } from "./certificates.js";
import { peerIdentity } from "./peer-identity.js";
import { x509 } from "./x509-provider.js";

// The real path (socket.getPeerCertificate() after a handshake) is in tls.int.test.ts; here only the
// `raw` field Node fills in is built, to reach the cases a handshake with our CA cannot produce.
function peer(certPem: string): PeerCertificate {
  return { raw: Buffer.from(x509.PemConverter.decodeFirst(certPem)) } as PeerCertificate;
}

let ca: CaMaterial;
let client: IssuedCertificate;
const now = new Date();

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: "kenshin test CA", now, validityDays: 30 });
  client = await issueClientCertificate(ca, {
    loginId: "受付-01",
    institutionId: "K.1310000001_a-b",
    institutionName: "テスト健診センター",
    now,
    validityDays: 30,
  });
});

describe("peerIdentity", () => {
  it("returns what issueClientCertificate put in", () => {
    expect(peerIdentity(peer(client.certPem))).toEqual({
      serialHex: client.serialHex,
      fingerprintSha256: client.fingerprintSha256,
      loginId: "受付-01",
      institutionId: "K.1310000001_a-b",
    });
  });

  it("returns undefined for the empty object Node gives when no certificate was sent", () => {
    expect(peerIdentity({} as PeerCertificate)).toBeUndefined();
  });

  it("returns undefined for a server certificate (no clientAuth, no institution URI)", async () => {
    const server = await issueServerCertificate(ca, { hostNames: ["localhost"], now, validityDays: 30 });
    expect(peerIdentity(peer(server.certPem))).toBeUndefined();
  });

  it("returns undefined for a clientAuth certificate without the institution URI", async () => {
    const keys = await globalThis.crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
      "sign",
      "verify",
    ]);
    const foreign = await x509.X509CertificateGenerator.createSelfSigned({
      name: [{ CN: ["alice-01"] }],
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
    });
    expect(peerIdentity(peer(foreign.toString("pem")))).toBeUndefined();
  });

  it("returns undefined for bytes that are not a certificate", () => {
    expect(peerIdentity({ raw: Buffer.from("not a certificate") } as PeerCertificate)).toBeUndefined();
  });
});
