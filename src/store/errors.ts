import { CodedError } from "../coded-error.js";

/** Codes of the storage layer's own checks. */
export type StoreErrorCode = "STORE_RUNTIME_UNSUPPORTED";

export class StoreError extends CodedError<StoreErrorCode> {
  override readonly name = "StoreError";
}
