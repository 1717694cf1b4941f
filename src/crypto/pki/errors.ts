import { CodedError } from "../../coded-error.js";

/**
 * Codes of the private-PKI domain. Messages are Japanese for the office staff who read them; callers and
 * tests branch on the code only. Context never carries key material, passwords or personal data.
 */
export type PkiErrorCode =
  /** A private key is not PEM, is encrypted, or is not ECDSA P-256. */
  | "PKI_KEY_INVALID"
  /** A certificate is not a parsable PEM X.509 certificate. */
  | "PKI_CERT_INVALID"
  /** A private key does not belong to the certificate it was given with. */
  | "PKI_KEY_MISMATCH"
  /** The certificate given as the CA is not a CA (basicConstraints cA, keyUsage keyCertSign/cRLSign). */
  | "PKI_NOT_A_CA"
  /** A certificate or CRL was not issued (signed) by the given CA. */
  | "PKI_ISSUER_MISMATCH"
  /** A CRL is not a parsable PEM X.509 v2 CRL. */
  | "PKI_CRL_INVALID"
  /** A CRL's nextUpdate has passed: OpenSSL would refuse every client certificate. */
  | "PKI_CRL_EXPIRED"
  /** A serial number is not the hex of a positive DER INTEGER of at most 20 octets (RFC 5280 §4.1.2.2). */
  | "PKI_SERIAL_INVALID"
  /** A PKCS#12 password is empty, too long, or has characters PKCS#12 cannot carry. */
  | "PKI_PASSWORD_INVALID"
  /** An option (dates, validity, names, host names) is out of range or malformed. */
  | "PKI_OPTION_INVALID";

/** The private-PKI domain's error. */
export class PkiError extends CodedError<PkiErrorCode> {
  override readonly name = "PkiError";
}
