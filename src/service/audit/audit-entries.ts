/**
 * Ledger entries as the audit views read them (AuditEvent search, read, export and the search index):
 * an entry with its position, and the patients of a transfer — the record hashes its conversion entry
 * committed to, in file order (fhir/audit-patient.ts). The one place these views touch the ledger's
 * read side.
 */
import { auditEventOf, type AuditEvent, type LedgerEntryRef } from "../../fhir/audit-event.js";
import { isPatientLinked, patientAuditEvent, type PatientRef } from "../../fhir/audit-patient.js";
import { decodeEntry } from "../../ledger/entry/canonical-entry.js";
import { toHex } from "../../ledger/verify/encoding.js";
import type { ServiceContext } from "../context.js";

/** Number of entries in the log. */
export function ledgerSize(ctx: ServiceContext): number {
  return ctx.ledger.size();
}

/** Entry `index` with its leaf hash and the log's origin. */
export function entryRef(ctx: ServiceContext, index: number): LedgerEntryRef {
  return {
    index,
    leafHash: toHex(ctx.ledger.leafHash(index)),
    record: decodeEntry(ctx.ledger.entry(index)),
    origin: ctx.ledger.origin,
  };
}

/** The index of the entry with this leaf hash (hex), if any. */
export function indexOfLeafHash(ctx: ServiceContext, leafHash: string): number | undefined {
  return /^[0-9a-f]{64}$/.test(leafHash)
    ? ctx.ledger.findByLeafHash(Buffer.from(leafHash, "hex"))[0]
    : undefined;
}

/** Indices of a transfer's entries, ascending. */
export function transferEntries(ctx: ServiceContext, transfer: string): number[] {
  return ctx.ledger.findByKey(`transfer:${transfer}`);
}

/** Where a standard record's hash (hex) occurs: conversion entry and position. */
export function recordOccurrences(
  ctx: ServiceContext,
  recordSha256: string,
): { index: number; position: number }[] {
  return ctx.ledger.findRecord(Buffer.from(recordSha256, "hex"));
}

/**
 * The patients of a transfer, memoised per caller: the record hashes of its conversion entry (none
 * when it was never converted).
 */
export function patientsOfTransfers(ctx: ServiceContext): (transfer: string) => readonly PatientRef[] {
  const seen = new Map<string, readonly PatientRef[]>();
  return (transfer) => {
    let found = seen.get(transfer);
    if (found === undefined) {
      const conversion = transferEntries(ctx, transfer).find(
        (i) => entryRef(ctx, i).record.type === "conversion",
      );
      found =
        conversion === undefined
          ? []
          : ctx.ledger.recordHashes(conversion).map((h, position) => ({ position, recordSha256: toHex(h) }));
      seen.set(transfer, found);
    }
    return found;
  };
}

/** The AuditEvents of one entry: its own, then one per patient when it is patient-linked. */
export function eventsOfEntry(
  ref: LedgerEntryRef,
  patientsOf: (transfer: string) => readonly PatientRef[],
): AuditEvent[] {
  const base = auditEventOf(ref);
  if (!isPatientLinked(ref.record)) return [base];
  return [base, ...patientsOf(ref.record.transfer).map((p) => patientAuditEvent(base, ref.index, p))];
}
