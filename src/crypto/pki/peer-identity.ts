/**
 * Reading back, from the certificate a client presented, what issueClientCertificate put in it.
 */
import { createHash } from "node:crypto";
import type { PeerCertificate } from "node:tls";
import { checkSubjectName, parseInstitutionUrn } from "./client-identity.js";
import { MAX_PEM_CHARS } from "./pem.js";
import { x509 } from "./x509-provider.js";

/** Who is on the other end of a mutually authenticated TLS connection. */
export interface PeerIdentity {
  /** Lower-case hex of the serial, as in IssuedCertificate.serialHex and CRL entries. */
  serialHex: string;
  /** Lower-case hex SHA-256 of the certificate's DER, as in IssuedCertificate.fingerprintSha256. */
  fingerprintSha256: string;
  /** Subject CN. */
  loginId: string;
  /** From the subjectAltName URI `urn:kenshin:institution:<id>`. */
  institutionId: string;
}

/**
 * Extracts the identity from `socket.getPeerCertificate()`. It does NOT verify anything: call it only
 * when `socket.authorized` is true, i.e. OpenSSL has checked the chain to the service CA, validity,
 * extKeyUsage and the CRL during the handshake. Returns undefined when there is no certificate or it is
 * not one of our client certificates (no clientAuth, not exactly one CN, not exactly one institution
 * URI), so that the caller answers with its own coded refusal.
 */
export function peerIdentity(cert: PeerCertificate): PeerIdentity | undefined {
  // getPeerCertificate() returns {} when the peer sent no certificate.
  const raw: unknown = (cert as Partial<PeerCertificate> | null | undefined)?.raw;
  if (!Buffer.isBuffer(raw) || raw.length === 0 || raw.length > MAX_PEM_CHARS) return undefined;
  let parsed: x509.X509Certificate;
  try {
    parsed = new x509.X509Certificate(new Uint8Array(raw));
  } catch {
    return undefined;
  }
  const eku = parsed.getExtension(x509.ExtendedKeyUsageExtension);
  if (eku?.usages.includes(x509.ExtendedKeyUsage.clientAuth) !== true) return undefined;
  const institutionIds = (parsed.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [])
    .filter((name) => name.type === "url")
    .map((name) => parseInstitutionUrn(name.value));
  const commonNames = parsed.subjectName.getField("CN");
  const institutionId = institutionIds.length === 1 ? institutionIds[0] : undefined;
  const loginId = commonNames.length === 1 ? commonNames[0] : undefined;
  if (institutionId === undefined || loginId === undefined || !isSubjectName(loginId)) return undefined;
  return {
    serialHex: parsed.serialNumber.toLowerCase(),
    fingerprintSha256: createHash("sha256").update(raw).digest("hex"),
    loginId,
    institutionId,
  };
}

function isSubjectName(value: string): boolean {
  try {
    checkSubjectName(value, "loginId");
    return true;
  } catch {
    return false;
  }
}
