/**
 * Certificate revocation lists (RFC 5280 §5): an X.509 v2 CRL signed by the service CA, which Node's
 * `tls` `crl` option hands to OpenSSL so that a revoked client certificate fails the handshake itself
 * (X509_V_FLAG_CRL_CHECK, leaf only: there is no intermediate to check).
 */
import * as asn1js from "asn1js";
import { loadCertificateAuthority, type CaMaterial } from "./ca.js";
import { PkiError } from "./errors.js";
import { ECDSA_SHA256 } from "./keys.js";
import { normalizeSerialHex } from "./serial.js";
import { CLOCK_SKEW_MS, checkedDate, validityPeriod } from "./validity.js";
import { x509 } from "./x509-provider.js";

/** CRLReason codes (RFC 5280 §5.3.1) an office may record; certificateHold is left out on purpose. */
export type RevocationReason =
  | "unspecified"
  | "keyCompromise"
  | "affiliationChanged"
  | "superseded"
  | "cessationOfOperation"
  | "privilegeWithdrawn";

/** One revoked certificate, as the server's store keeps it. */
export interface RevokedCertificate {
  serialHex: string;
  revokedAt: Date;
  /** Recorded as the reasonCode entry extension; omitted when absent (RFC 5280 §5.3.1 says so for unspecified). */
  reason?: RevocationReason;
}

/** More entries than this is not a CRL of this service but a bug upstream. */
export const MAX_CRL_ENTRIES = 100_000;

/** id-ce-cRLNumber (RFC 5280 §5.2.3). */
const OID_CRL_NUMBER = "2.5.29.20";
/** cRLNumber is at most 20 octets (RFC 5280 §5.2.3). */
const MAX_CRL_NUMBER = (1n << 159n) - 1n;

/**
 * Creates a PEM CRL listing `revoked`, signed with ECDSA-SHA256 by the CA. thisUpdate is `now` less the
 * clock-skew allowance, nextUpdate is `now` + `nextUpdateDays`. Extensions: authorityKeyIdentifier and
 * cRLNumber, both MUST for conforming CRL issuers (RFC 5280 §5.2.1, §5.2.3). The cRLNumber defaults to
 * `now` in milliseconds since 1970, which increases as long as the clock does; pass `crlNumber` to
 * use a stored counter instead.
 *
 * Re-sign before nextUpdate: OpenSSL refuses every client once the loaded CRL has expired.
 * @throws PkiError PKI_SERIAL_INVALID (bad or duplicate serial), PKI_OPTION_INVALID, CA errors
 */
export async function createCrl(
  ca: CaMaterial,
  o: { revoked: RevokedCertificate[]; now: Date; nextUpdateDays: number; crlNumber?: bigint },
): Promise<string> {
  const { notAfter: nextUpdate } = validityPeriod(o.now, o.nextUpdateDays, "nextUpdateDays");
  const thisUpdate = new Date(o.now.getTime() - CLOCK_SKEW_MS);
  const crlNumber = o.crlNumber ?? BigInt(o.now.getTime());
  if (typeof crlNumber !== "bigint" || crlNumber < 0n || crlNumber > MAX_CRL_NUMBER) {
    throw new PkiError("PKI_OPTION_INVALID", "crlNumber は 0 以上 20 オクテット以内の整数です", {
      field: "crlNumber",
    });
  }
  const entries = crlEntries(o.revoked);
  const loaded = await loadCertificateAuthority(ca);
  const crl = await x509.X509CrlGenerator.create({
    issuer: loaded.cert.cert.subjectName,
    thisUpdate,
    nextUpdate,
    signingAlgorithm: ECDSA_SHA256,
    signingKey: loaded.signingKey,
    entries,
    extensions: [
      new x509.AuthorityKeyIdentifierExtension(loaded.keyId),
      new x509.Extension(OID_CRL_NUMBER, false, asn1js.Integer.fromBigInt(crlNumber).toBER()),
    ],
  });
  // RFC 7468 §6 labels CRLs "X509 CRL", the only label OpenSSL's PEM_read_bio_X509_CRL (and so Node's
  // `crl` option) reads; @peculiar/x509's own toString("pem") would write "CRL".
  return x509.PemConverter.encode(crl.rawData, "X509 CRL");
}

function crlEntries(revoked: unknown): x509.X509CrlEntryParams[] {
  if (!Array.isArray(revoked) || revoked.length > MAX_CRL_ENTRIES) {
    throw new PkiError("PKI_OPTION_INVALID", `revoked は ${MAX_CRL_ENTRIES} 件以内の配列です`, {
      field: "revoked",
    });
  }
  const seen = new Set<string>();
  return revoked.map((item: Partial<RevokedCertificate> | null | undefined, index) => {
    const serialNumber = normalizeSerialHex(item?.serialHex);
    if (seen.has(serialNumber)) {
      // One certificate revoked twice means the store has two rows for it: let the caller see that.
      throw new PkiError("PKI_SERIAL_INVALID", "同じシリアル番号が 2 回あります", { index });
    }
    seen.add(serialNumber);
    const revocationDate = checkedDate(item?.revokedAt, `revoked[${index}].revokedAt`);
    const reason = item?.reason;
    if (reason === undefined || reason === "unspecified") return { serialNumber, revocationDate };
    if (typeof reason !== "string" || !Object.hasOwn(REASON_CODES, reason)) {
      throw new PkiError("PKI_OPTION_INVALID", "失効理由が不正です", { field: `revoked[${index}].reason` });
    }
    return { serialNumber, revocationDate, reason: REASON_CODES[reason] };
  });
}

const REASON_CODES: Record<Exclude<RevocationReason, "unspecified">, x509.X509CrlReason> = {
  keyCompromise: x509.X509CrlReason.keyCompromise,
  affiliationChanged: x509.X509CrlReason.affiliationChanged,
  superseded: x509.X509CrlReason.superseded,
  cessationOfOperation: x509.X509CrlReason.cessationOfOperation,
  privilegeWithdrawn: x509.X509CrlReason.privilegeWithdrawn,
};
