/** Coded errors of the FHIR layer: refused searches and unsafe or invalid FHIR input. */
import { CodedError } from "../coded-error.js";

export type FhirErrorCode =
  "FHIR_SEARCH_INVALID" | "FHIR_FORMAT_UNSUPPORTED" | "FHIR_INPUT_UNSAFE" | "FHIR_INPUT_INVALID";

export class FhirError extends CodedError<FhirErrorCode> {
  override readonly name = "FhirError";
}
