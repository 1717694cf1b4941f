/**
 * The node certificates of an in-process cluster test: a CA made at test start, its empty CRL, and one
 * certificate per node name for 127.0.0.1 (the integrity tests' peers speak mutual TLS 1.3 with them).
 */
import {
  createCertificateAuthority,
  createCrl,
  issueNodeCertificate,
  type CaMaterial,
  type IssuedCertificate,
} from "../../src/crypto/pki/index.js";

/** Makes the CA and its CRL and puts each name's certificate into `certs`. */
export async function issueTestNodeCertificates(
  commonName: string,
  names: readonly string[],
  certs: Map<string, IssuedCertificate>,
): Promise<{ ca: CaMaterial; crlPem: string }> {
  const now = new Date();
  const ca = await createCertificateAuthority({ commonName, now, validityDays: 2 });
  const crlPem = await createCrl(ca, { revoked: [], now, nextUpdateDays: 1 });
  for (const name of names) {
    certs.set(
      name,
      await issueNodeCertificate(ca, { nodeName: name, hostNames: ["127.0.0.1"], now, validityDays: 2 }),
    );
  }
  return { ca, crlPem };
}
