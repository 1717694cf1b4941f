import { CodedError } from "../coded-error.js";

/** Codes of the crypto domain: key files and signing keys. */
export type CryptoErrorCode = "CRYPTO_KEY_FILE_EXISTS" | "CRYPTO_KEY_FILE_UNREADABLE" | "CRYPTO_KEY_INVALID";

/** The crypto domain's error. Context never carries key material. */
export class CryptoError extends CodedError<CryptoErrorCode> {
  override readonly name = "CryptoError";
}
