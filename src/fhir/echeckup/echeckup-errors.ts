/** Coded errors of the eCheckup FHIR output. */
import { CodedError } from "../../coded-error.js";

export type EcheckupErrorCode = "ECHECKUP_INPUT_INVALID";

export class EcheckupError extends CodedError<EcheckupErrorCode> {
  override readonly name = "EcheckupError";
}
