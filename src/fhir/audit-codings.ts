/**
 * Small builders of the codings and references every AuditEvent part uses (DICOM roles, audit entity
 * types, object roles, lifecycles; codes in security-requirements.md §2), spelled once.
 */
import type { CodeableConcept, Coding, Reference } from "./resource-types.js";
import { AUDIT_ENTITY_TYPE, AUDIT_LIFECYCLE, DCM, OBJECT_ROLE } from "./systems.js";

export const concept = (coding: Coding): CodeableConcept => ({ coding: [coding] });
export const dcm = (code: string, display: string): Coding => ({ system: DCM, code, display });
export const SOURCE_ROLE = dcm("110153", "Source Role ID");
export const DESTINATION_ROLE = dcm("110152", "Destination Role ID");
export const APPLICATION = dcm("110150", "Application");
export const entityType = (code: "1" | "2" | "3", display: string): Coding => ({
  system: AUDIT_ENTITY_TYPE,
  code,
  display,
});
export const SYSTEM_OBJECT = entityType("2", "System Object");
export const objectRole = (code: string, display: string): Coding => ({ system: OBJECT_ROLE, code, display });
export const lifecycle = (code: string, display: string): Coding => ({
  system: AUDIT_LIFECYCLE,
  code,
  display,
});
export const ident = (system: string, value: string): Reference => ({ identifier: { system, value } });
export const detail = (type: string, value: string | number) => ({ type, valueString: String(value) });
