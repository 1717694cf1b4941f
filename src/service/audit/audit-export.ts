/**
 * Exports for auditors: the ledger's entries in a time range as FHIR AuditEvents (NDJSON, one resource
 * per line, http://hl7.org/fhir/R4/nd-json.html) or as RFC 3881 / JAHIS audit messages (one XML document,
 * schema/audit-messages.xsd). Oldest first; each patient-linked entry's event is followed by one event
 * per patient (fhir/audit-patient.ts). Run on the node's console, so everything is in scope; the
 * export is itself an `audit-query` entry (L5), which the monitoring alerts count.
 */
import { matchesAuditEvent, parseAuditEventSearch } from "../../fhir/audit-event-search.js";
import { AUDIT_MESSAGES_HEAD, AUDIT_MESSAGES_TAIL, auditMessageXml } from "../../fhir/rfc3881.js";
import { entryRef, eventsOfEntry, ledgerSize, patientsOfTransfers } from "./audit-entries.js";
import { audit, recordCommon } from "./audit.js";
import type { Actor, ServiceContext } from "../context.js";

export type AuditExportFormat = "fhir" | "jahis";

export interface AuditExportOptions {
  /** First day or instant included (YYYY-MM-DD read in Japan time, or an ISO 8601 instant). */
  readonly from: string;
  /** Last day or instant included. */
  readonly to: string;
  readonly format: AuditExportFormat;
}

/**
 * Writes the export through `write` (called with text chunks) and returns how many events it held.
 * @throws FhirError FHIR_SEARCH_INVALID for a malformed --from / --to
 */
export async function exportAuditEvents(
  ctx: ServiceContext,
  actor: Actor,
  o: AuditExportOptions,
  write: (text: string) => void,
): Promise<{ events: number }> {
  const criteria = parseAuditEventSearch(new Map([["date", [`ge${o.from}`, `le${o.to}`]]]));
  const size = ledgerSize(ctx);
  const patientsOf = patientsOfTransfers(ctx);
  let events = 0;
  if (o.format === "jahis") write(AUDIT_MESSAGES_HEAD);
  for (let index = 0; index < size; index++) {
    // The entry's event, then one per patient for the entries that touched patients' data (L2).
    for (const event of eventsOfEntry(entryRef(ctx, index), patientsOf)) {
      if (!matchesAuditEvent(event, criteria)) continue;
      write(o.format === "fhir" ? `${JSON.stringify(event)}\n` : `${auditMessageXml(event)}\n`);
      events++;
    }
  }
  if (o.format === "jahis") write(AUDIT_MESSAGES_TAIL);
  await audit(ctx, [
    {
      ...recordCommon(ctx, actor, "success"),
      type: "audit-query",
      query: `export ${o.format} ${criteria.canonical} (${events} events)`.slice(0, 1000),
    },
  ]);
  return { events };
}
