/**
 * Keeps the AuditEvent search index (store/audit-search-index.ts) up to the ledger and answers searches
 * from it. The index is caught up before each search, from the first unindexed entry, in batches: the
 * cost of an entry is paid once, and a search is then one indexed SQL query for one page — never a
 * scan of the log. It holds what a search matches on (codes, agents, entities, time, institution,
 * transfer, confidentiality), derived from the entry's AuditEvent, so it agrees with
 * `matchesAuditEvent` by construction (fhir/audit-event-keys.ts, property-tested).
 */
import { criteriaKeyGroups, searchKeysOf } from "../../fhir/audit-event-keys.js";
import { auditEventOf } from "../../fhir/audit-event.js";
import { dateRangeOf, type AuditEventCriteria } from "../../fhir/audit-event-search.js";
import { confidentialityOf, levelsUpTo, type Confidentiality } from "../../fhir/security-labels.js";
import { addIndexRows, indexedUpTo, searchIndex, type IndexRow } from "../../store/audit-search-index.js";
import { entryRef, ledgerSize } from "./audit-entries.js";
import type { ServiceContext } from "../context.js";

/** Entries indexed per transaction while catching up. */
const CATCH_UP_BATCH = 2000;

function rowOf(ctx: ServiceContext, index: number): IndexRow {
  const ref = entryRef(ctx, index);
  const event = auditEventOf(ref);
  return {
    idx: index,
    recordedMs: Date.parse(event.recorded),
    institution: ref.record.institution,
    transfer: "transfer" in ref.record ? ref.record.transfer : undefined,
    confidentiality: confidentialityOf(event.meta.security),
    keys: searchKeysOf(event),
  };
}

/** Indexes the entries not indexed yet (at most `max`); returns how many it added. */
export function catchUpAuditIndex(ctx: ServiceContext, max = Number.POSITIVE_INFINITY): number {
  const size = Math.min(ledgerSize(ctx), indexedUpTo(ctx.db) + max);
  let next = indexedUpTo(ctx.db);
  const start = next;
  while (next < size) {
    const end = Math.min(size, next + CATCH_UP_BATCH);
    const rows: IndexRow[] = [];
    for (let i = next; i < end; i++) rows.push(rowOf(ctx, i));
    addIndexRows(ctx.db, rows);
    next = end;
  }
  return next - start;
}

/**
 * Indices of the entries matching `criteria` that a reader of `party` (undefined: the office) cleared
 * for `clearance` may see, newest first, at most `limit`.
 */
export function indexedSearch(
  ctx: ServiceContext,
  criteria: AuditEventCriteria,
  o: { party: string | undefined; clearance: Confidentiality; limit: number },
): number[] {
  catchUpAuditIndex(ctx);
  const range = dateRangeOf(criteria);
  if (range.empty) return [];
  return searchIndex(ctx.db, {
    keyGroups: criteriaKeyGroups(criteria),
    ...(range.fromMs !== undefined ? { fromMs: range.fromMs } : {}),
    ...(range.toMs !== undefined ? { toMs: range.toMs } : {}),
    ...(criteria.before !== undefined ? { before: criteria.before } : {}),
    confidentialities: levelsUpTo(o.clearance),
    ...(o.party !== undefined ? { party: o.party } : {}),
    limit: o.limit,
  });
}

/** Entries indexed per background step, and the pause between steps while the index is behind. */
const BACKGROUND_STEP = 500;
const BACKGROUND_EVERY_MS = 250;

/**
 * Keeps the index close to the ledger in the background, a small step at a time (so a node opened on
 * a large, never-indexed ledger does not make its first search wait for all of it, and no step holds
 * the event loop long). Returns the stop function.
 */
export function indexInBackground(ctx: ServiceContext): () => void {
  const timer = setInterval(() => {
    try {
      catchUpAuditIndex(ctx, BACKGROUND_STEP);
    } catch {
      // A closed database at shutdown, or a ledger read failing: the next search catches up (and
      // reports) instead.
    }
  }, BACKGROUND_EVERY_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
  };
}
