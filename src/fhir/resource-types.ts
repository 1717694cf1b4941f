/**
 * The FHIR R4 data types this service emits, as plain readonly JSON shapes (only the elements we use).
 * https://hl7.org/fhir/R4/datatypes.html — the tests validate every emitted resource against the full
 * R4 definitions, so these shapes need not encode every rule.
 */

export interface Coding {
  readonly system: string;
  readonly code: string;
  readonly display?: string;
}

export interface CodeableConcept {
  readonly coding?: readonly Coding[];
  readonly text?: string;
}

export interface Identifier {
  readonly system: string;
  readonly value: string;
}

export interface Reference {
  readonly reference?: string;
  /** The resource type the reference is to (a logical reference by identifier has no URL). */
  readonly type?: string;
  readonly identifier?: Identifier;
  readonly display?: string;
}

export interface Meta {
  readonly lastUpdated?: string;
  readonly source?: string;
  readonly security: readonly Coding[];
}

/** http://hl7.org/fhir/R4/narrative.html — `div` is XHTML made by `narrative.ts` only. */
export interface Narrative {
  readonly status: "generated";
  readonly div: string;
}

/** Every resource we emit carries its security labels (B1) and a generated narrative where useful. */
export interface EmittedResource {
  readonly resourceType: string;
  readonly id?: string;
  readonly meta: Meta;
  readonly text?: Narrative;
}
