/**
 * The codes table: for each kind of ledger entry, the AuditEvent type / subtype / action and the roles
 * of the agents and entities, following IHE BALP (https://profiles.ihe.net/ITI/BALP/) and DICOM PS3.15
 * A.5.3 where they have a pattern, and our own subtype codes (`SYSTEM.auditSubtype`) where they have
 * none. This is the one place these codes are chosen; the README's "FHIR and audit" section prints it.
 */
import type { OperationRecord } from "../ledger/entry/operation-record.js";
import type { Coding } from "./resource-types.js";
import { AUDIT_EVENT_TYPE, DCM, ISO_21089_LIFECYCLE, RESTFUL_INTERACTION, SYSTEM } from "./systems.js";

/** AuditEvent.action: http://hl7.org/fhir/R4/valueset-audit-event-action.html */
export type AuditAction = "C" | "R" | "U" | "D" | "E";

/** Which side the user and the node play (DICOM 110153 Source / 110152 Destination / 110150 Application). */
export type Direction = "user-to-node" | "node-to-user" | "none";

export interface AuditCodes {
  readonly type: Coding;
  readonly subtype: readonly Coding[];
  readonly action: AuditAction;
  /** Who sends the data (Source) and who receives it (Destination), when data moves. */
  readonly direction: Direction;
  /** BALP pattern (or DICOM message) the event follows, for the README table. */
  readonly pattern: string;
}

const dcm = (code: string, display: string): Coding => ({ system: DCM, code, display });
const rest: Coding = { system: AUDIT_EVENT_TYPE, code: "rest", display: "RESTful Operation" };
const interaction = (code: string): Coding => ({ system: RESTFUL_INTERACTION, code });
const ours = (code: string, display: string): Coding => ({ system: SYSTEM.auditSubtype, code, display });
const disclose: Coding = {
  system: ISO_21089_LIFECYCLE,
  code: "disclose",
  display: "Disclose Record Lifecycle Event",
};

const USER_AUTHENTICATION = dcm("110114", "User Authentication");
const SECURITY_ALERT = dcm("110113", "Security Alert");
const APPLICATION_ACTIVITY = dcm("110100", "Application Activity");
const AUDIT_LOG_USED = dcm("110101", "Audit Log Used");
const EXPORT = dcm("110106", "Export");
const IMPORT = dcm("110107", "Import");

type AdminAction = Extract<OperationRecord, { type: "admin" }>["action"];
type DenialAction = Extract<OperationRecord, { type: "denial" }>["action"];

const admin = (subtype: Coding, action: AuditAction, type: Coding = SECURITY_ALERT): AuditCodes => ({
  type,
  subtype: [subtype],
  action,
  direction: "none",
  pattern: "DICOM A.5.3.11 Security Alert",
});
const SECURITY_CONFIGURATION = dcm("110129", "Security Configuration");
const ROLES_CHANGED = dcm("110136", "Security Roles Changed");
const USER_ATTRIBUTES = dcm("110137", "User Security Attributes Changed");
const SOFTWARE_CONFIGURATION = dcm("110131", "Software Configuration");

/** Office and account actions. */
export const ADMIN_CODES: Readonly<Record<AdminAction, AuditCodes>> = {
  "institution.create": admin(SECURITY_CONFIGURATION, "C"),
  "institution.update": admin(SECURITY_CONFIGURATION, "U"),
  "account.create": admin(USER_ATTRIBUTES, "C"),
  "account.disable": admin(USER_ATTRIBUTES, "U"),
  "account.enable": admin(USER_ATTRIBUTES, "U"),
  "account.unlock": admin(USER_ATTRIBUTES, "U"),
  "password.reset": admin(USER_ATTRIBUTES, "U"),
  "password.change": admin(USER_ATTRIBUTES, "U"),
  "role.change": admin(ROLES_CHANGED, "U"),
  "certificate.issue": admin(USER_ATTRIBUTES, "C"),
  "certificate.revoke": admin(USER_ATTRIBUTES, "D"),
  "mapping.update": admin(SOFTWARE_CONFIGURATION, "U"),
  "device.register": admin(USER_ATTRIBUTES, "C"),
  "device.update": admin(USER_ATTRIBUTES, "U"),
  "device.remove": admin(USER_ATTRIBUTES, "D"),
  "key.rotate": admin(SECURITY_CONFIGURATION, "U"),
  "backup.create": admin(ours("backup-create", "Backup created"), "C", APPLICATION_ACTIVITY),
  "backup.restore": admin(ours("backup-restore", "Backup restored"), "U", APPLICATION_ACTIVITY),
};

type CodedType = Exclude<OperationRecord["type"], "admin" | "denial">;

/** The other entry kinds. */
export const ENTRY_CODES: Readonly<Record<CodedType, AuditCodes>> = {
  login: {
    type: USER_AUTHENTICATION,
    subtype: [dcm("110122", "Login")],
    action: "E",
    direction: "none",
    pattern: "DICOM A.5.3.12 User Authentication",
  },
  logout: {
    type: USER_AUTHENTICATION,
    subtype: [dcm("110123", "Logout")],
    action: "E",
    direction: "none",
    pattern: "DICOM A.5.3.12 User Authentication",
  },
  upload: {
    type: rest,
    subtype: [interaction("create")],
    action: "C",
    direction: "user-to-node",
    pattern: "BALP Create",
  },
  conversion: {
    type: rest,
    subtype: [interaction("operation"), ours("convert", "$convert to the standard checkup CSV")],
    action: "E",
    direction: "none",
    pattern: "BALP Create (operation)",
  },
  send: {
    type: EXPORT,
    subtype: [disclose],
    action: "U",
    direction: "user-to-node",
    pattern: "BALP PrivacyDisclosureSource",
  },
  download: {
    type: EXPORT,
    subtype: [disclose],
    action: "R",
    direction: "node-to-user",
    pattern: "BALP PrivacyDisclosureSource",
  },
  receipt: {
    type: IMPORT,
    subtype: [disclose],
    action: "C",
    direction: "node-to-user",
    pattern: "BALP PrivacyDisclosureRecipient",
  },
  deletion: {
    type: rest,
    subtype: [interaction("delete")],
    action: "D",
    direction: "none",
    pattern: "BALP Delete",
  },
  "audit-query": {
    type: AUDIT_LOG_USED,
    subtype: [interaction("search-type")],
    action: "E",
    direction: "node-to-user",
    pattern: "DICOM A.5.3.2 Audit Log Used + BALP Query",
  },
  repair: {
    type: SECURITY_ALERT,
    subtype: [ours("ledger-repair", "Ledger range repaired from a peer")],
    action: "U",
    direction: "none",
    pattern: "DICOM A.5.3.11 Security Alert",
  },
  seal: {
    type: rest,
    subtype: [
      interaction("create"),
      ours("seal", "Provenance with the organisation seal and an RFC 3161 time stamp"),
    ],
    action: "C",
    direction: "none",
    pattern: "BALP Create (Provenance)",
  },
  alert: {
    type: SECURITY_ALERT,
    subtype: [ours("monitoring-alert", "Burst beyond a monitoring threshold")],
    action: "E",
    direction: "none",
    pattern: "DICOM A.5.3.11 Security Alert",
  },
  note: {
    type: APPLICATION_ACTIVITY,
    subtype: [ours("note", "Operator note")],
    action: "E",
    direction: "none",
    pattern: "DICOM A.5.3.1 Application Activity",
  },
};

/** A refusal is the attempted operation with a failure outcome; a tamper alarm is a Security Alert. */
export const DENIAL_CODES: Readonly<Record<DenialAction, AuditCodes>> = {
  upload: ENTRY_CODES.upload,
  send: ENTRY_CODES.send,
  discard: ENTRY_CODES.deletion,
  download: ENTRY_CODES.download,
  receipt: ENTRY_CODES.receipt,
  trail: ENTRY_CODES["audit-query"],
  lookup: ENTRY_CODES["audit-query"],
  read: {
    type: rest,
    subtype: [interaction("read")],
    action: "R",
    direction: "node-to-user",
    pattern: "BALP Read",
  },
  // Refused before any handler ran (CSRF token, device signature): the operation is not known.
  request: {
    type: SECURITY_ALERT,
    subtype: [ours("request-refused", "Request refused before its handler (CSRF or device signature)")],
    action: "E",
    direction: "none",
    pattern: "DICOM A.5.3.11 Security Alert",
  },
  integrity: {
    type: SECURITY_ALERT,
    subtype: [ours("integrity-alarm", "Stored data or ledger failed verification")],
    action: "E",
    direction: "none",
    pattern: "DICOM A.5.3.11 Security Alert",
  },
};

/** The codes of one entry. */
export function auditCodesOf(record: OperationRecord): AuditCodes {
  if (record.type === "admin") return ADMIN_CODES[record.action];
  if (record.type === "denial") return DENIAL_CODES[record.action];
  return ENTRY_CODES[record.type];
}

/** http://hl7.org/fhir/R4/valueset-audit-event-outcome.html */
export const OUTCOME_CODE: Readonly<Record<OperationRecord["outcome"], "0" | "4" | "8" | "12">> = {
  success: "0",
  "minor-failure": "4",
  "serious-failure": "8",
  "major-failure": "12",
};
