import { CodedError } from "../coded-error.js";

/** Codes of the standard-format domain: dictionary loading, record layout, writing, hashing. */
export type FormatErrorCode =
  | "FORMAT_DICTIONARY_UNREADABLE"
  | "FORMAT_DICTIONARY_INVALID"
  | "FORMAT_DICTIONARY_DUPLICATE_KEY"
  | "FORMAT_DICTIONARY_IMPORT_INVALID"
  | "FORMAT_ITEM_UNKNOWN"
  | "FORMAT_ENCODING_UNSUPPORTED"
  | "FORMAT_NOT_STANDARD_CSV";

export class FormatError extends CodedError<FormatErrorCode> {
  override readonly name = "FormatError";
}
