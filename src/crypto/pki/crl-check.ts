/**
 * Synchronous checks of a CRL before it is handed to OpenSSL. OpenSSL only looks at a CRL during a
 * handshake, and then fails closed: a CRL from another CA, with a bad signature, not yet valid or past
 * its nextUpdate makes EVERY client certificate fail ("unable to get certificate CRL", "CRL has
 * expired"). Checking when the server (re)loads the CRL turns that outage into an error the operator
 * sees, and the old secure context stays in place.
 */
import { verify as verifySignature, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import { assertCertificateAuthority } from "./ca.js";
import { PkiError } from "./errors.js";
import { decodeSinglePem, MAX_CRL_PEM_CHARS, parseCertificatePem } from "./pem.js";
import { CLOCK_SKEW_MS, checkedDate } from "./validity.js";
import { x509 } from "./x509-provider.js";

/** What the server may want to log or show about a CRL it loaded. */
export interface CrlSummary {
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  /** Lower-case serial hex of each entry. */
  revokedSerials: ReadonlySet<string>;
}

/** ecdsa-with-SHA256 (RFC 5758 §3.2), the only signature our CA makes. */
const OID_ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";

/**
 * Checks that `crlPem` is one X.509 v2 CRL issued and signed by the CA in `caCertPem`, and, when `now`
 * is given, that it is already valid and not past nextUpdate.
 * @throws PkiError PKI_CRL_INVALID, PKI_ISSUER_MISMATCH, PKI_CRL_EXPIRED, and CA certificate errors
 */
export function checkCrl(o: { caCertPem: string; crlPem: string; now?: Date }): CrlSummary {
  const ca = parseCertificatePem(o.caCertPem);
  assertCertificateAuthority(ca);
  const der = decodeSinglePem(o.crlPem, "X509 CRL", "PKI_CRL_INVALID", MAX_CRL_PEM_CHARS);
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(der);
  } catch (cause) {
    throw new PkiError("PKI_CRL_INVALID", "CRL を解析できません", {}, { cause });
  }
  if (crl.issuer !== ca.cert.subject || !signedBy(der, ca.node.publicKey)) {
    throw new PkiError("PKI_ISSUER_MISMATCH", "CRL がこの CA によって署名されていません", {
      crlIssuer: crl.issuer,
    });
  }
  if (o.now !== undefined) {
    const now = checkedDate(o.now, "now").getTime();
    if (crl.thisUpdate.getTime() > now + CLOCK_SKEW_MS) {
      throw new PkiError("PKI_CRL_INVALID", "CRL の発行日時が未来です", {
        thisUpdate: crl.thisUpdate.toISOString(),
      });
    }
    if (crl.nextUpdate !== undefined && crl.nextUpdate.getTime() <= now) {
      throw new PkiError("PKI_CRL_EXPIRED", "CRL の次回更新日時を過ぎています。CRL を再発行してください", {
        nextUpdate: crl.nextUpdate.toISOString(),
      });
    }
  }
  return {
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    revokedSerials: new Set(crl.entries.map((e) => e.serialNumber.toLowerCase())),
  };
}

/**
 * Verifies CertificateList.signatureValue over the tbsCertList bytes exactly as received (RFC 5280
 * §5.1.1.3). asn1js gives the raw TBS octets; re-encoding a parsed structure could differ from what
 * was signed. X.509 carries ECDSA signatures DER-encoded, node's default dsaEncoding.
 */
function signedBy(der: Uint8Array<ArrayBuffer>, publicKey: KeyObject): boolean {
  const parsed = asn1js.fromBER(der);
  const list = parsed.result;
  if (parsed.offset !== der.byteLength || !(list instanceof asn1js.Sequence)) return false;
  const [tbs, algorithm, signature] = list.valueBlock.value;
  if (
    list.valueBlock.value.length !== 3 ||
    !(tbs instanceof asn1js.Sequence) ||
    !(algorithm instanceof asn1js.Sequence) ||
    !(signature instanceof asn1js.BitString) ||
    signature.valueBlock.unusedBits !== 0
  ) {
    return false;
  }
  const oid = algorithm.valueBlock.value[0];
  if (!(oid instanceof asn1js.ObjectIdentifier) || oid.valueBlock.toString() !== OID_ECDSA_WITH_SHA256) {
    return false;
  }
  try {
    return verifySignature("sha256", tbs.valueBeforeDecodeView, publicKey, signature.valueBlock.valueHexView);
  } catch {
    // A malformed DER signature is a signature that does not verify.
    return false;
  }
}
