/**
 * The confidentiality of an entry's AuditEvent (B1, Z4; the rule is documented in security-labels.ts):
 * security events — failures, refusals, repairs, alerts — are R, whose disclosure would help an
 * attacker; every other event is N.
 */
import type { OperationRecord } from "../ledger/entry/operation-record.js";

/** The confidentiality of an entry's AuditEvent: R for a security event, N otherwise. */
export function confidentialityOfRecord(record: OperationRecord): "N" | "R" {
  return isSecurityEvent(record) ? "R" : "N";
}

/** Outcomes that are security events (labelled R, see security-labels.ts). */
export function isSecurityEvent(record: OperationRecord): boolean {
  return (
    record.outcome !== "success" ||
    record.type === "denial" ||
    record.type === "repair" ||
    record.type === "alert"
  );
}
