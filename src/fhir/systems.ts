/**
 * The URIs this service writes into FHIR resources: HL7 / DICOM / IHE code systems (as listed in the
 * FHIR R4 AuditEvent, Provenance and security-label pages and IHE BALP) and our own identifier systems.
 * One table, so a URI is spelled once.
 */

/** DICOM controlled terminology (PS3.16), used for AuditEvent types, subtypes and agent roles. */
export const DCM = "http://dicom.nema.org/resources/ontology/DCM";
/** http://hl7.org/fhir/R4/codesystem-audit-event-type.html (`rest`). */
export const AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type";
/** http://hl7.org/fhir/R4/codesystem-restful-interaction.html */
export const RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction";
export const SECURITY_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type";
export const AUDIT_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
export const OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role";
export const AUDIT_LIFECYCLE = "http://terminology.hl7.org/CodeSystem/dicom-audit-lifecycle";
export const ISO_21089_LIFECYCLE = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle";
export const PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
export const EXTRA_SECURITY_ROLE = "http://terminology.hl7.org/CodeSystem/extra-security-role-type";
export const PROVENANCE_PARTICIPANT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type";
export const ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
export const CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
export const ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
export const DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation";
/** IHE BALP: https://profiles.ihe.net/ITI/BALP/CodeSystem-BasicAuditEntityType.html */
export const BALP_ENTITY_TYPE = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType";
/** Signature types: http://hl7.org/fhir/R4/valueset-signature-type.html */
export const SIGNATURE_TYPE = "urn:iso-astm:E1762-95:2013";
/** SNOMED CT (custodian role of a disclosure, BALP PrivacyDisclosure). */
export const SNOMED = "http://snomed.info/sct";

/** Our identifier systems. */
export const SYSTEM = {
  error: "urn:kenshin-exchange:error",
  loginId: "urn:kenshin-exchange:login-id",
  institution: "urn:kenshin-exchange:institution",
  node: "urn:kenshin-exchange:node",
  transfer: "urn:kenshin-exchange:transfer",
  deviceKey: "urn:kenshin-exchange:device-key",
  certificate: "urn:kenshin-exchange:certificate-sha256",
  /** A file by its SHA-256 (lower-case hex). */
  fileSha256: "urn:kenshin-exchange:file-sha256",
  /**
   * A standard record by its SHA-256 (lower-case hex): how an AuditEvent names the patient the record
   * is about without any personal data (audit-patient.ts).
   */
  recordSha256: "urn:kenshin-exchange:record-sha256",
  /** A ledger entry by its index; the entity's detail carries the leaf hash and the log origin. */
  ledgerEntry: "urn:kenshin-exchange:ledger-entry",
  /** A request ID (BALP XrequestId). */
  requestId: "urn:kenshin-exchange:request-id",
  account: "urn:kenshin-exchange:account",
  mapping: "urn:kenshin-exchange:mapping",
  key: "urn:kenshin-exchange:key",
  backup: "urn:kenshin-exchange:backup",
  alert: "urn:kenshin-exchange:alert",
  /** Our own AuditEvent subtypes where no standard code exists (office actions, alerts, repairs). */
  auditSubtype: "urn:kenshin-exchange:audit-subtype",
} as const;
