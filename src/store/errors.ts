import { CodedError } from "../coded-error.js";

/** Codes of the storage layer's own checks. */
export type StoreErrorCode =
  | "STORE_RUNTIME_UNSUPPORTED"
  // The content-addressed chunk store (chunk-store.ts).
  | "STORE_CHUNK_DB_UNUSABLE"
  | "STORE_CHUNK_ADDRESS_INVALID"
  | "STORE_CHUNK_HASH_MISMATCH"
  | "STORE_CHUNK_TOO_LARGE";

export class StoreError extends CodedError<StoreErrorCode> {
  override readonly name = "StoreError";
}
