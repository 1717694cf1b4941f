/**
 * Monitoring alerts (L6): bursts of authentication failures, downloads, exports or audit reads — more
 * entries of one kind in the last `windowMinutes` than the configured threshold — become `alert`
 * entries (and so AuditEvents of type Security Alert, and a line on the office's monitoring view). One
 * alert per kind per window: while an alert of that kind is inside the window, no second one is raised.
 */
import { decodeEntry } from "../ledger/entry/canonical-entry.js";
import type { OperationRecord, RecordInput } from "../ledger/entry/operation-record.js";
import type { ServiceContext } from "./context.js";
import { ledgerTime } from "./ledger-time.js";

export type AlertKind = Extract<OperationRecord, { type: "alert" }>["kind"];

/** Entries examined at most per check (the window's tail of the log). */
const MAX_SCAN = 5000;

/** Which kind an entry counts towards, if any. */
export function alertKindOf(
  r: Pick<OperationRecord, "type" | "outcome"> & { query?: string },
): AlertKind | undefined {
  if (r.type === "login" && r.outcome !== "success") return "auth-failures";
  if (r.type === "download") return "downloads";
  if (r.type === "audit-query") return r.query?.startsWith("export ") === true ? "exports" : "audit-reads";
  return undefined;
}

function thresholdOf(ctx: ServiceContext, kind: AlertKind): number {
  const a = ctx.config.alerts;
  return {
    "auth-failures": a.authFailures,
    downloads: a.downloads,
    exports: a.exports,
    "audit-reads": a.auditReads,
  }[kind];
}

/** Alert records due after `appended` were stored (empty almost always). */
export function dueAlerts(ctx: ServiceContext, appended: readonly RecordInput[]): RecordInput[] {
  const kinds = new Set(
    appended.map((r) => alertKindOf(r as OperationRecord)).filter((k): k is AlertKind => k !== undefined),
  );
  if (kinds.size === 0) return [];
  const windowMinutes = ctx.config.alerts.windowMinutes;
  const since = ctx.now().getTime() - windowMinutes * 60_000;
  const counts = new Map<AlertKind, { n: number; subjects: Map<string, number> }>();
  const alerted = new Set<AlertKind>();
  const size = ctx.ledger.size();
  for (let i = size - 1; i >= 0 && i >= size - MAX_SCAN; i--) {
    const r = decodeEntry(ctx.ledger.entry(i));
    if (Date.parse(r.time) < since) break;
    if (r.type === "alert") alerted.add(r.kind);
    const kind = alertKindOf(r);
    if (kind === undefined || !kinds.has(kind)) continue;
    const c = counts.get(kind) ?? { n: 0, subjects: new Map<string, number>() };
    c.n++;
    c.subjects.set(r.actor.id, (c.subjects.get(r.actor.id) ?? 0) + 1);
    counts.set(kind, c);
  }
  const out: RecordInput[] = [];
  for (const [kind, c] of counts) {
    const threshold = thresholdOf(ctx, kind);
    if (c.n <= threshold || alerted.has(kind)) continue;
    const subject = [...c.subjects.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    out.push({
      time: ledgerTime(ctx),
      actor: { id: "monitor", role: "system" },
      institution: "-",
      outcome: "minor-failure",
      outcomeDesc: `${kind}: ${c.n} > ${threshold} in ${windowMinutes} min`,
      source: { observer: ctx.config.nodeName },
      type: "alert",
      kind,
      count: c.n,
      threshold,
      windowMinutes,
      ...(subject !== undefined ? { subject: subject.slice(0, 200) } : {}),
    });
  }
  return out;
}

/** The alerts of the last `limit` entries' worth, newest first (for the office's monitoring view). */
export function recentAlerts(
  ctx: ServiceContext,
  limit = 20,
): {
  time: string;
  kind: AlertKind;
  count: number;
  threshold: number;
  windowMinutes: number;
  subject?: string;
}[] {
  const out: ReturnType<typeof recentAlerts> = [];
  const size = ctx.ledger.size();
  for (let i = size - 1; i >= 0 && i >= size - MAX_SCAN && out.length < limit; i--) {
    const r = decodeEntry(ctx.ledger.entry(i));
    if (r.type !== "alert") continue;
    out.push({
      time: r.time,
      kind: r.kind,
      count: r.count,
      threshold: r.threshold,
      windowMinutes: r.windowMinutes,
      ...(r.subject !== undefined ? { subject: r.subject } : {}),
    });
  }
  return out;
}
