import { CodedError } from "../coded-error.js";

/** Fatal conversion errors: the run cannot start (bad mapping, unreadable input, bad options). */
export type ConvertErrorCode =
  | "MAP_UNREADABLE"
  | "MAP_SYNTAX"
  | "MAP_SCHEMA"
  | "MAP_UNKNOWN_ITEM"
  | "MAP_UNKNOWN_COLUMN"
  | "MAP_UNSUPPORTED_VERSION"
  | "MAP_INVALID_RULE"
  | "MAP_THESAURUS_UNKNOWN"
  | "CONVERT_INPUT_UNREADABLE"
  | "CONVERT_OUTPUT_UNWRITABLE"
  | "CONVERT_ENCODING_UNSUPPORTED"
  | "CONVERT_ENCODING_MISMATCH"
  | "CONVERT_HEADER_MISSING"
  | "CONVERT_OPTION_INVALID"
  | "CONVERT_SPLIT_MID_ROW"
  | "THESAURUS_INVALID";

export class ConvertError extends CodedError<ConvertErrorCode> {
  override readonly name = "ConvertError";
}
