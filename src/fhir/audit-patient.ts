/**
 * The patient entity (L2, IHE BALP): on every patient-linked event — upload, conversion, send, download,
 * receipt and deletion of a transfer's data — one AuditEvent per patient, each carrying that patient as
 * an entity of type 1 Person, role 1 Patient (BALP: "one AuditEvent per patient" when an activity
 * touches several). The entry's own AuditEvent (id = leaf hash) stays the file-level event.
 *
 * Who the data is about, without personal data: the service holds no patient register, and the office
 * must never learn who had a checkup. A patient is therefore named by the SHA-256 of their standard
 * record (one record = one examinee's checkup), the hash the ledger already commits to (the conversion
 * entry's records root; per-record verification on the 検証 page computes it from the record). The
 * holders of the data — sender, receiver, the examinee's own copy — can compute it and ask "who touched
 * this record" (`patient=<record hash>`); the office sees a hash over the whole record, results included,
 * which names nobody. Nothing else about the patient (name, insurance number, birth date) is written.
 */
import type { OperationRecord } from "../ledger/entry/operation-record.js";
import type { AuditEvent, AuditEventEntity } from "./audit-event.js";
import { AUDIT_ENTITY_TYPE, OBJECT_ROLE, SYSTEM } from "./systems.js";

/** One examinee of a transfer: their record's position in the standard file and its SHA-256 (hex). */
export interface PatientRef {
  readonly position: number;
  readonly recordSha256: string;
}

/** Entry kinds whose AuditEvents are given one per patient. */
const PATIENT_LINKED: ReadonlySet<OperationRecord["type"]> = new Set([
  "upload",
  "conversion",
  "send",
  "download",
  "receipt",
  "deletion",
]);

/** Whether an entry touches the patients' data (and so has per-patient AuditEvents). */
export function isPatientLinked(
  record: OperationRecord,
): record is Extract<OperationRecord, { transfer: string }> {
  return PATIENT_LINKED.has(record.type) && "transfer" in record;
}

/** The id of the AuditEvent of `patient` on entry `index` (FHIR ids: [A-Za-z0-9\-.]{1,64}). */
export function patientEventId(index: number, position: number): string {
  return `e${index}-p${position}`;
}

/** The inverse of {@link patientEventId}, or undefined for another kind of id. */
export function parsePatientEventId(id: string): { index: number; position: number } | undefined {
  const m = /^e(\d{1,15})-p(\d{1,9})$/.exec(id);
  if (!m) return undefined;
  const index = Number(m[1]);
  const position = Number(m[2]);
  return Number.isSafeInteger(index) ? { index, position } : undefined;
}

/** The BALP patient entity: type 1 Person, role 1 Patient, named by the record's hash. */
export function patientEntity(patient: PatientRef): AuditEventEntity {
  return {
    what: { identifier: { system: SYSTEM.recordSha256, value: patient.recordSha256 } },
    type: { system: AUDIT_ENTITY_TYPE, code: "1", display: "Person" },
    role: { system: OBJECT_ROLE, code: "1", display: "Patient" },
    detail: [{ type: "position", valueString: String(patient.position) }],
  };
}

/**
 * The per-patient AuditEvent of a patient-linked entry: the entry's AuditEvent (`base`, from
 * auditEventOf) with this patient's entity first and its own id; everything else — codes, agents, the
 * ledger entity that proves it — is the entry's.
 */
export function patientAuditEvent(base: AuditEvent, index: number, patient: PatientRef): AuditEvent {
  return {
    ...base,
    id: patientEventId(index, patient.position),
    entity: [patientEntity(patient), ...(base.entity ?? [])],
  };
}
