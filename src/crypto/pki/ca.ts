/**
 * The service's private certificate authority: one self-signed ECDSA P-256 root that signs the server
 * certificate, every client certificate and the CRL. There is no intermediate (pathLenConstraint 0):
 * the CA key lives on the service node itself, so an intermediate would add a file, not a protection.
 */
import { checkSubjectName } from "./client-identity.js";
import { PkiError } from "./errors.js";
import {
  ECDSA_SHA256,
  exportPrivateKeyPem,
  generateP256KeyPair,
  importSigningKey,
  parseP256PrivateKey,
} from "./keys.js";
import { parseCertificatePem, type ParsedCertificate } from "./pem.js";
import { randomSerialHex } from "./serial.js";
import { validityPeriod } from "./validity.js";
import { x509 } from "./x509-provider.js";

/** The CA as stored: its certificate and its unencrypted PKCS#8 private key, both PEM. */
export interface CaMaterial {
  certPem: string;
  keyPem: string;
}

/** A CA checked and ready to sign. */
export interface LoadedCertificateAuthority {
  readonly cert: ParsedCertificate;
  readonly signingKey: CryptoKey;
  /** Hex keyIdentifier of the CA's subjectKeyIdentifier, repeated as authorityKeyIdentifier below it. */
  readonly keyId: string;
}

/**
 * Creates a new CA: a fresh P-256 key and a self-signed certificate with subject CN = `commonName`,
 * basicConstraints cA (critical, pathLen 0) and keyUsage keyCertSign + cRLSign (critical), as RFC 5280
 * §4.2.1.9 and §4.2.1.3 require of a certificate that signs certificates and CRLs.
 * @throws PkiError PKI_OPTION_INVALID
 */
export async function createCertificateAuthority(o: {
  commonName: string;
  now: Date;
  validityDays: number;
}): Promise<CaMaterial> {
  const commonName = checkSubjectName(o.commonName, "commonName");
  const { notBefore, notAfter } = validityPeriod(o.now, o.validityDays, "validityDays");
  const keys = await generateP256KeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: [{ CN: [commonName] }],
    notBefore,
    notAfter,
    signingAlgorithm: ECDSA_SHA256,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/**
 * Checks CA material (certificate is a CA, key is P-256 and belongs to it) and imports the key.
 * @throws PkiError PKI_CERT_INVALID, PKI_NOT_A_CA, PKI_KEY_INVALID, PKI_KEY_MISMATCH
 */
export async function loadCertificateAuthority(ca: CaMaterial): Promise<LoadedCertificateAuthority> {
  const cert = parseCertificatePem(ca.certPem);
  const keyId = assertCertificateAuthority(cert);
  const key = parseP256PrivateKey(ca.keyPem);
  if (!cert.node.checkPrivateKey(key.keyObject)) {
    throw new PkiError("PKI_KEY_MISMATCH", "CA の秘密鍵が CA 証明書と対応していません");
  }
  return { cert, signingKey: await importSigningKey(key), keyId };
}

/**
 * Checks that a certificate may act as our CA and returns its key identifier.
 * @throws PkiError PKI_NOT_A_CA
 */
export function assertCertificateAuthority(cert: ParsedCertificate): string {
  const basic = cert.cert.getExtension(x509.BasicConstraintsExtension);
  const usage = cert.cert.getExtension(x509.KeyUsagesExtension);
  const ski = cert.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const needed = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;
  if (basic?.ca !== true || usage === null || (usage.usages & needed) !== needed || ski === null) {
    throw new PkiError("PKI_NOT_A_CA", "CA 証明書ではありません (basicConstraints / keyUsage / SKI)", {
      subject: cert.cert.subject,
    });
  }
  return ski.keyId;
}
