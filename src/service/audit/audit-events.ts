/**
 * Reading the ledger as FHIR AuditEvents, with the API's visibility rules: a party (sender or receiver)
 * sees the events of its own institution's logins and actions and the events of the transfers it may see;
 * the office sees every event (entries hold identifiers and hashes only, never result data); anyone else
 * sees nothing — an event that is not visible answers exactly as a missing one. On top of that, each
 * role sees only events within its clearance (Z4, fhir/security-labels.ts): the R-labelled security
 * events are the office's. Searches are answered from the search index (audit-event-index.ts), searches
 * by patient from the ledger's record index (one event per patient, fhir/audit-patient.ts). Every read
 * is itself an `audit-query` entry (L5).
 */
import type { AuditEvent } from "../../fhir/audit-event.js";
import { matchesAuditEvent, type AuditEventCriteria } from "../../fhir/audit-event-search.js";
import { isPatientLinked, parsePatientEventId, patientAuditEvent } from "../../fhir/audit-patient.js";
import { auditEventOf } from "../../fhir/audit-event.js";
import { permits, ROLE_CLEARANCE } from "../../fhir/security-labels.js";
import {
  entryRef,
  indexOfLeafHash,
  ledgerSize,
  patientsOfTransfers,
  recordOccurrences,
  transferEntries,
} from "./audit-entries.js";
import { indexedSearch } from "./audit-event-index.js";
import { audit, recordCommon } from "./audit.js";
import type { Actor, ServiceContext } from "../context.js";
import { entryVisibility as visibility } from "./entry-visibility.js";
import { ServiceError } from "../errors.js";
import type { Session } from "../identity/sessions.js";

export interface AuditEventPage {
  readonly events: readonly AuditEvent[];
  /** `_before` of the next page, when older matching entries remain. */
  readonly next?: number;
}

async function recordRead(ctx: ServiceContext, actor: Actor, query: string, found: boolean): Promise<void> {
  await audit(ctx, [
    {
      ...recordCommon(ctx, actor, found ? "success" : "minor-failure", found ? undefined : "NOT_FOUND"),
      type: "audit-query",
      query: query.slice(0, 1000),
    },
  ]);
}

/** Whether this session may see this event of this entry: party rules, then its clearance (Z4). */
function readable(ctx: ServiceContext, session: Session): (event: AuditEvent, index: number) => boolean {
  const visible = visibility(ctx, session);
  const clearance = ROLE_CLEARANCE[session.role];
  return (event, index) => permits(clearance, event.meta.security) && visible(entryRef(ctx, index).record);
}

/** A page from the search index: the entries' own events. */
function indexedPage(ctx: ServiceContext, session: Session, criteria: AuditEventCriteria): AuditEventPage {
  const may = readable(ctx, session);
  const indices = indexedSearch(ctx, criteria, {
    party: session.role === "admin" ? undefined : session.institution.id,
    clearance: ROLE_CLEARANCE[session.role],
    limit: criteria.count + 1,
  });
  const page = indices.slice(0, criteria.count);
  // What the index found is rebuilt from the entry and checked again: the index decides what to look
  // at, never what is shown.
  const events = page
    .map((index) => ({ index, event: auditEventOf(entryRef(ctx, index)) }))
    .filter(({ index, event }) => matchesAuditEvent(event, criteria) && may(event, index))
    .map(({ event }) => event);
  const last = page.at(-1);
  return indices.length > criteria.count && last !== undefined ? { events, next: last } : { events };
}

/**
 * A page of per-patient events: the entries that touched the named records (the record's conversion,
 * then every patient-linked entry of its transfer), newest first. A page ends between entries, so
 * `_before` never splits one entry's events.
 */
function patientPage(ctx: ServiceContext, session: Session, criteria: AuditEventCriteria): AuditEventPage {
  const may = readable(ctx, session);
  const patientsOf = patientsOfTransfers(ctx);
  const wanted = new Set(criteria.patients.flat());
  // entry index → positions of wanted records in its transfer
  const candidates = new Map<number, Set<number>>();
  for (const hash of wanted) {
    for (const at of recordOccurrences(ctx, hash)) {
      const conversion = entryRef(ctx, at.index).record;
      if (conversion.type !== "conversion") continue;
      for (const i of transferEntries(ctx, conversion.transfer)) {
        if (criteria.before !== undefined && i >= criteria.before) continue;
        const positions = candidates.get(i) ?? new Set<number>();
        positions.add(at.position);
        candidates.set(i, positions);
      }
    }
  }
  const events: AuditEvent[] = [];
  const order = [...candidates.keys()].sort((a, b) => b - a);
  for (const [n, index] of order.entries()) {
    const ref = entryRef(ctx, index);
    if (!isPatientLinked(ref.record)) continue;
    const base = auditEventOf(ref);
    const patients = patientsOf(ref.record.transfer);
    const found = [...(candidates.get(index) ?? [])]
      .sort((a, b) => a - b)
      .flatMap((position) => {
        const patient = patients[position];
        return patient === undefined ? [] : [patientAuditEvent(base, index, patient)];
      })
      .filter((e) => matchesAuditEvent(e, criteria) && may(e, index));
    if (found.length === 0) continue;
    if (events.length > 0 && events.length + found.length > criteria.count) {
      return { events, next: order[n - 1] ?? index + 1 };
    }
    events.push(...found);
  }
  return { events };
}

/** One page of matching events, newest first. */
export async function searchAuditEvents(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  criteria: AuditEventCriteria,
): Promise<AuditEventPage> {
  const page =
    criteria.patients.length > 0 ? patientPage(ctx, session, criteria) : indexedPage(ctx, session, criteria);
  await recordRead(ctx, actor, `fhir AuditEvent?${criteria.canonical}`, true);
  return page;
}

/** One event by its id: the entry's leaf hash, or `e<index>-p<position>` for a per-patient event. */
export async function readAuditEvent(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  id: string,
): Promise<AuditEvent> {
  let event: AuditEvent | undefined;
  let index: number | undefined;
  const patientId = parsePatientEventId(id);
  if (patientId !== undefined && patientId.index < ledgerSize(ctx)) {
    const ref = entryRef(ctx, patientId.index);
    const patient = isPatientLinked(ref.record)
      ? patientsOfTransfers(ctx)(ref.record.transfer)[patientId.position]
      : undefined;
    if (patient !== undefined) {
      index = patientId.index;
      event = patientAuditEvent(auditEventOf(ref), index, patient);
    }
  } else {
    index = indexOfLeafHash(ctx, id);
    if (index !== undefined) event = auditEventOf(entryRef(ctx, index));
  }
  const ok = event !== undefined && index !== undefined && readable(ctx, session)(event, index);
  await recordRead(ctx, actor, `fhir AuditEvent/${id.slice(0, 64)}`, ok);
  if (!ok || event === undefined) throw new ServiceError("NOT_FOUND", "見つかりません", {});
  return event;
}
