/**
 * The time written into ledger entries (T1): the clock's time, but never earlier than the last stored
 * entry's, so recorded times never go backwards even when the wall clock is set back (an NTP step, a
 * wrong manual setting). The clock is still trusted for forward progress; monitoring shows whether it
 * is synchronised (time-status.ts).
 */
import { decodeEntry } from "../../ledger/entry/canonical-entry.js";
import type { ServiceContext } from "../context.js";

/**
 * The last stored entry's time, or undefined for an empty log. Every recorded operation asks (a trail
 * read is one), and the log often has not grown since the last ask, so the time is kept with the size
 * it was read at and the entry is read and decoded again only when the size differs.
 */
function lastEntryTime(ctx: ServiceContext): number | undefined {
  const size = ctx.ledger.size();
  if (size === 0) return undefined;
  const known = lastRead.get(ctx.ledger);
  if (known?.size === size) return known.time;
  const time = Date.parse(decodeEntry(ctx.ledger.entry(size - 1)).time);
  lastRead.set(ctx.ledger, { size, time });
  return time;
}

const lastRead = new WeakMap<ServiceContext["ledger"], { size: number; time: number }>();

/** max(now, last entry's time), as the ISO 8601 UTC string entries carry. */
export function ledgerTime(ctx: ServiceContext): string {
  const now = ctx.now().getTime();
  const last = lastEntryTime(ctx);
  return new Date(last !== undefined && last > now ? last : now).toISOString();
}
