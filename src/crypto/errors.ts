import { CodedError } from "../coded-error.js";

/** Codes of the crypto domain: key files, signing keys, detached JWS and RFC 3161 time stamps. */
export type CryptoErrorCode =
  | "CRYPTO_KEY_FILE_EXISTS"
  | "CRYPTO_KEY_FILE_UNREADABLE"
  | "CRYPTO_KEY_INVALID"
  /** A JWS is malformed, uses another algorithm or header, or its signature does not verify. */
  | "CRYPTO_JWS_INVALID"
  /** A JWS signer's certificate is not from the trusted CA or was not valid at signing time. */
  | "CRYPTO_JWS_UNTRUSTED"
  /** An RFC 3161 time-stamp response or token is malformed, refused, or does not verify. */
  | "CRYPTO_TIMESTAMP_INVALID"
  /** The time-stamp authority could not be reached or answered with an error. */
  | "CRYPTO_TSA_UNAVAILABLE";

/** The crypto domain's error. Context never carries key material. */
export class CryptoError extends CodedError<CryptoErrorCode> {
  override readonly name = "CryptoError";
}
