/**
 * Who may see which ledger entry, as FHIR AuditEvent or Provenance: the office sees every entry
 * (entries hold identifiers and hashes, never result data); a sender or receiver sees its own
 * institution's entries and those of the transfers it may see (a receiver only once the transfer was
 * sent); nobody else sees anything.
 */
import type { OperationRecord } from "../../ledger/entry/operation-record.js";
import type { ServiceContext } from "../context.js";
import type { Session } from "../identity/sessions.js";
import { canSee, transferRow } from "../transfers/records.js";

/** Whether this session may see the entry (memoises transfer look-ups per request). */
export function entryVisibility(ctx: ServiceContext, session: Session): (record: OperationRecord) => boolean {
  if (session.role === "admin") return () => true;
  const inst = session.institution.id;
  const seen = new Map<string, boolean>();
  return (record) => {
    if (record.institution === inst) return true;
    const transfer = "transfer" in record ? record.transfer : undefined;
    if (transfer === undefined) return false;
    let ok = seen.get(transfer);
    if (ok === undefined) {
      const row = transferRow(ctx, transfer);
      ok = row !== undefined && canSee(session, row);
      seen.set(transfer, ok);
    }
    return ok;
  };
}
