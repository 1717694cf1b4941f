/**
 * The input of `Provenance/$verify` (a FHIR Parameters resource: `provenance` = the Provenance,
 * `file` = the file's bytes as base64Binary), read strictly; anything else is FHIR_INPUT_INVALID.
 * http://hl7.org/fhir/R4/parameters.html
 */
import { FhirError } from "./errors.js";

export interface ProvenanceVerifyInput {
  readonly provenance: { readonly signature?: unknown; readonly target?: unknown };
  readonly file: Uint8Array;
}

/** Reads the Parameters of `$verify`. */
export function readProvenanceVerifyInput(body: unknown): ProvenanceVerifyInput {
  const params = (body as { resourceType?: unknown; parameter?: unknown } | undefined) ?? {};
  const list = Array.isArray(params.parameter)
    ? (params.parameter as { name?: unknown; resource?: unknown; valueBase64Binary?: unknown }[])
    : [];
  const provenance = list.find((p) => p.name === "provenance")?.resource as
    { resourceType?: unknown; signature?: unknown; target?: unknown } | undefined;
  const file = list.find((p) => p.name === "file")?.valueBase64Binary;
  if (
    params.resourceType !== "Parameters" ||
    provenance?.resourceType !== "Provenance" ||
    typeof file !== "string" ||
    !/^[A-Za-z0-9+/]*={0,2}$/.test(file)
  ) {
    throw new FhirError("FHIR_INPUT_INVALID", "Parameters (provenance, file) を送ってください", {});
  }
  return { provenance, file: Buffer.from(file, "base64") };
}
