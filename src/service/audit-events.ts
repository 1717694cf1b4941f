/**
 * Reading the ledger as FHIR AuditEvents, with the API's visibility rules: a party (sender or receiver)
 * sees the events of its own institution's logins and actions and the events of the transfers it may see;
 * the office sees every event (entries hold identifiers and hashes only, never result data); anyone else
 * sees nothing — an event that is not visible answers exactly as a missing one. Every read is itself an
 * `audit-query` entry (L5).
 */
import { auditEventOf, type AuditEvent } from "../fhir/audit-event.js";
import { matchesAuditEvent, type AuditEventCriteria } from "../fhir/audit-event-search.js";
import { decodeEntry } from "../ledger/entry/canonical-entry.js";
import type { OperationRecord } from "../ledger/entry/operation-record.js";
import { toHex } from "../ledger/verify/encoding.js";
import { audit, recordCommon } from "./audit.js";
import type { Actor, ServiceContext } from "./context.js";
import type { Session } from "./sessions.js";
import { ServiceError } from "./errors.js";
import { entryVisibility as visibility } from "./entry-visibility.js";

/** Entries examined for one page at most; past that the page ends early with a `next` cursor. */
export const MAX_SCAN_PER_PAGE = 20_000;

export interface AuditEventPage {
  readonly events: readonly AuditEvent[];
  /** `_before` of the next page, when older entries remain. */
  readonly next?: number;
}

function eventAt(ctx: ServiceContext, index: number): { record: OperationRecord; event: () => AuditEvent } {
  const bytes = ctx.ledger.entry(index);
  const record = decodeEntry(bytes);
  return {
    record,
    event: () =>
      auditEventOf({ index, leafHash: toHex(ctx.ledger.leafHash(index)), record, origin: ctx.ledger.origin }),
  };
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

/** One page of matching events, newest first. */
export async function searchAuditEvents(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  criteria: AuditEventCriteria,
): Promise<AuditEventPage> {
  const visible = visibility(ctx, session);
  const size = ctx.ledger.size();
  const start = Math.min(criteria.before ?? size, size) - 1;
  const events: AuditEvent[] = [];
  let i = start;
  let scanned = 0;
  for (; i >= 0 && events.length < criteria.count && scanned < MAX_SCAN_PER_PAGE; i--, scanned++) {
    const { record, event } = eventAt(ctx, i);
    if (!visible(record)) continue;
    const e = event();
    if (matchesAuditEvent(e, criteria)) events.push(e);
  }
  await recordRead(ctx, actor, `fhir AuditEvent?${criteria.canonical}`, true);
  // `i` is the next index to examine; i + 1 is the exclusive bound of the next page.
  return i >= 0 ? { events, next: i + 1 } : { events };
}

/** One event by its id (the entry's leaf hash). */
export async function readAuditEvent(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  id: string,
): Promise<AuditEvent> {
  const index = /^[0-9a-f]{64}$/.test(id) ? ctx.ledger.findByLeafHash(Buffer.from(id, "hex"))[0] : undefined;
  const hit = index === undefined ? undefined : eventAt(ctx, index);
  const ok = hit !== undefined && visibility(ctx, session)(hit.record);
  await recordRead(ctx, actor, `fhir AuditEvent/${id.slice(0, 64)}`, ok);
  if (!ok) throw new ServiceError("NOT_FOUND", "見つかりません", {});
  return hit.event();
}
