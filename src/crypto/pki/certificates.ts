/**
 * End-entity certificates issued by the service CA (RFC 5280 profile):
 * - server: subjectAltName dNSName / iPAddress for each host name, extKeyUsage serverAuth;
 * - client: subject CN = login ID, O = institution name, subjectAltName URI with the institution ID
 *   (see client-identity.ts), extKeyUsage clientAuth.
 * - node (cluster member): subjectAltName URI `urn:kenshin:node:<name>` plus the node's host names,
 *   extKeyUsage serverAuth and clientAuth, because each node both serves and calls its peers over
 *   mutual TLS (node-identity.ts reads it back).
 * All: a fresh P-256 key, basicConstraints cA=FALSE (critical), keyUsage digitalSignature (critical;
 * the only use of an ECDSA key in TLS 1.3, RFC 8446 §4.4.3), subject and authority key identifiers.
 */
import { loadCertificateAuthority, type CaMaterial, type LoadedCertificateAuthority } from "./ca.js";
import { checkInstitutionId, checkSubjectName, institutionUrn } from "./client-identity.js";
import { checkNodeName, nodeUrn } from "./node-identity.js";
import { PkiError } from "./errors.js";
import { hostNameEntries } from "./host-names.js";
import { ECDSA_SHA256, exportPrivateKeyPem, generateP256KeyPair } from "./keys.js";
import { fingerprintSha256 } from "./pem.js";
import { randomSerialHex } from "./serial.js";
import { validityPeriod } from "./validity.js";
import { x509 } from "./x509-provider.js";

/** A certificate just issued, with its private key. The key is not kept anywhere by this module. */
export interface IssuedCertificate {
  certPem: string;
  /** Unencrypted PKCS#8 PEM. */
  keyPem: string;
  /** Lower-case hex of the serial's DER INTEGER content, as a CRL entry must repeat it. */
  serialHex: string;
  /** Lower-case hex of SHA-256 over the certificate's DER. */
  fingerprintSha256: string;
  notBefore: Date;
  notAfter: Date;
}

/**
 * Issues the TLS server certificate for `hostNames` (DNS names and IP literals).
 * @throws PkiError PKI_OPTION_INVALID and the CA errors of {@link loadCertificateAuthority}
 */
export async function issueServerCertificate(
  ca: CaMaterial,
  o: { hostNames: string[]; now: Date; validityDays: number },
): Promise<IssuedCertificate> {
  const entries = hostNameEntries(o.hostNames);
  const period = validityPeriod(o.now, o.validityDays, "validityDays");
  // The CN is for people reading the certificate; browsers match the SAN only (RFC 6125 §6.4.4).
  const display = entries.find((e) => e.value.length <= 64);
  return issue(await loadCertificateAuthority(ca), {
    subject: display === undefined ? [] : [{ CN: [display.value] }],
    // With an empty subject, RFC 5280 §4.2.1.6 makes the SAN critical.
    altNames: new x509.SubjectAlternativeNameExtension(
      entries.map((e) => ({ type: e.type, value: e.value })),
      display === undefined,
    ),
    usage: [x509.ExtendedKeyUsage.serverAuth],
    ...period,
  });
}

/**
 * Issues a cluster node's certificate: its name in a subjectAltName URI, its host names for the peers'
 * host-name check, and both serverAuth and clientAuth.
 * @throws PkiError PKI_OPTION_INVALID and the CA errors of {@link loadCertificateAuthority}
 */
export async function issueNodeCertificate(
  ca: CaMaterial,
  o: { nodeName: string; hostNames: string[]; now: Date; validityDays: number },
): Promise<IssuedCertificate> {
  const nodeName = checkNodeName(o.nodeName);
  const entries = hostNameEntries(o.hostNames);
  const period = validityPeriod(o.now, o.validityDays, "validityDays");
  return issue(await loadCertificateAuthority(ca), {
    subject: [{ CN: [nodeName] }],
    altNames: new x509.SubjectAlternativeNameExtension([
      { type: "url", value: nodeUrn(nodeName) },
      ...entries.map((e) => ({ type: e.type, value: e.value })),
    ]),
    usage: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
    ...period,
  });
}

/**
 * Issues a client certificate for a login ID of an institution.
 * @throws PkiError PKI_OPTION_INVALID and the CA errors of {@link loadCertificateAuthority}
 */
export async function issueClientCertificate(
  ca: CaMaterial,
  o: { loginId: string; institutionId: string; institutionName: string; now: Date; validityDays: number },
): Promise<IssuedCertificate> {
  const loginId = checkSubjectName(o.loginId, "loginId");
  const institutionId = checkInstitutionId(o.institutionId);
  const institutionName = checkSubjectName(o.institutionName, "institutionName");
  const period = validityPeriod(o.now, o.validityDays, "validityDays");
  return issue(await loadCertificateAuthority(ca), {
    subject: [{ O: [institutionName] }, { CN: [loginId] }],
    altNames: new x509.SubjectAlternativeNameExtension([
      { type: "url", value: institutionUrn(institutionId) },
    ]),
    usage: [x509.ExtendedKeyUsage.clientAuth],
    ...period,
  });
}

/** What a signing certificate is for: the node's organisation seal (JWS) or its RFC 3161 time-stamp authority. */
export type SigningPurpose = "seal" | "tsa";

/** RFC 9336 id-kp-documentSigning. */
const DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36";

/**
 * Issues a signing certificate for the node itself:
 * - `seal`: the organisation key that signs sent files (detached JWS), extKeyUsage documentSigning;
 * - `tsa`: the built-in time-stamp authority, extKeyUsage timeStamping only and critical, as RFC 3161
 *   §2.3 requires (OpenSSL's `ts -verify` refuses anything else).
 * Both: keyUsage digitalSignature + nonRepudiation (contentCommitment), critical.
 * @throws PkiError PKI_OPTION_INVALID and the CA errors of {@link loadCertificateAuthority}
 */
export async function issueSigningCertificate(
  ca: CaMaterial,
  o: {
    purpose: SigningPurpose;
    organizationName: string;
    commonName: string;
    now: Date;
    validityDays: number;
  },
): Promise<IssuedCertificate> {
  const period = validityPeriod(o.now, o.validityDays, "validityDays");
  return issue(await loadCertificateAuthority(ca), {
    subject: [
      { O: [checkSubjectName(o.organizationName, "organizationName")] },
      { CN: [checkSubjectName(o.commonName, "commonName")] },
    ],
    usage: [o.purpose === "tsa" ? x509.ExtendedKeyUsage.timeStamping : DOCUMENT_SIGNING],
    usageCritical: o.purpose === "tsa",
    keyUsage: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation,
    ...period,
  });
}

async function issue(
  ca: LoadedCertificateAuthority,
  p: {
    subject: x509.JsonName;
    altNames?: x509.SubjectAlternativeNameExtension;
    usage: (x509.ExtendedKeyUsage | string)[];
    usageCritical?: boolean;
    keyUsage?: x509.KeyUsageFlags;
    notBefore: Date;
    notAfter: Date;
  },
): Promise<IssuedCertificate> {
  // OpenSSL checks every certificate of the chain against the current time, so a leaf that outlives
  // its CA would silently stop working on the CA's expiry date: refuse it now instead.
  // X.509 times have whole seconds (RFC 5280 §4.1.2.5.1), so compare what will be encoded.
  if (Math.floor(p.notAfter.getTime() / 1000) * 1000 > ca.cert.cert.notAfter.getTime()) {
    throw new PkiError("PKI_OPTION_INVALID", "証明書の有効期限が CA 証明書の有効期限を超えます", {
      field: "validityDays",
      caNotAfter: ca.cert.cert.notAfter.toISOString(),
    });
  }
  const keys = await generateP256KeyPair();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: p.subject,
    issuer: ca.cert.cert.subjectName,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    signingAlgorithm: ECDSA_SHA256,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(p.keyUsage ?? x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(p.usage, p.usageCritical ?? false),
      ...(p.altNames !== undefined ? [p.altNames] : []),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      new x509.AuthorityKeyIdentifierExtension(ca.keyId),
    ],
  });
  const der = new Uint8Array(cert.rawData);
  return {
    certPem: cert.toString("pem"),
    keyPem: await exportPrivateKeyPem(keys.privateKey),
    serialHex: cert.serialNumber.toLowerCase(),
    fingerprintSha256: await fingerprintSha256(der),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}
