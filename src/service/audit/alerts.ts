/**
 * Monitoring alerts (L6): bursts of authentication failures, downloads, exports or audit reads — more
 * entries of one kind in the last `windowMinutes` than the configured threshold — become `alert`
 * entries (and so AuditEvents of type Security Alert, and a line on the office's monitoring view). One
 * alert per kind per window: while an alert of that kind is inside the window, no second one is raised.
 */
import { decodeEntry } from "../../ledger/entry/canonical-entry.js";
import type { OperationRecord, RecordInput } from "../../ledger/entry/operation-record.js";
import type { ServiceContext } from "../context.js";
import { ledgerTime } from "../signing/ledger-time.js";

export type AlertKind = Extract<OperationRecord, { type: "alert" }>["kind"];

/** Entries examined at most per check (the window's tail of the log). */
const MAX_SCAN = 5000;

/** Which kind an entry counts towards, if any. */
export function alertKindOf(
  r: Pick<OperationRecord, "type" | "outcome"> & { query?: string },
): CountedKind | undefined {
  if (r.type === "login" && r.outcome !== "success") return "auth-failures";
  if (r.type === "download") return "downloads";
  if (r.type === "audit-query") return r.query?.startsWith("export ") === true ? "exports" : "audit-reads";
  return undefined;
}

/** Raised by counting entries (`transfer-damaged` is raised by the repair: transfer-damage.ts). */
type CountedKind = Exclude<AlertKind, "transfer-damaged">;

function thresholdOf(ctx: ServiceContext, kind: CountedKind): number {
  const a = ctx.config.alerts;
  return {
    "auth-failures": a.authFailures,
    downloads: a.downloads,
    exports: a.exports,
    "audit-reads": a.auditReads,
  }[kind];
}

/** What an alert check needs of one entry (kept for the newest {@link MAX_SCAN} entries). */
interface Seen {
  readonly time: number;
  readonly kind: CountedKind | undefined;
  readonly alert: AlertKind | undefined;
  readonly actor: string;
}

/**
 * The facts of the log's newest entries, read once each: a check used to decode the last 5,000 entries
 * again on every counted operation (every trail read), which made a trail read cost ~100 ms of CPU and,
 * since checks run one after another, capped trail reads at a few per second. Entries appended since
 * the last check (by this process or another on the same file) are decoded when the next check runs; a
 * log that shrank (cut back under the node) is read again from scratch.
 */
class RecentEntries {
  #size = 0;
  #seen: Seen[] = [];

  /** The facts of entries max(0, size − MAX_SCAN) … size − 1, oldest first. */
  update(ctx: ServiceContext): readonly Seen[] {
    const size = ctx.ledger.size();
    if (size < this.#size) {
      this.#size = 0;
      this.#seen = [];
    }
    const from = Math.max(this.#size, size - MAX_SCAN);
    if (from > this.#size) this.#seen = [];
    for (let i = from; i < size; i++) {
      const r = decodeEntry(ctx.ledger.entry(i));
      this.#seen.push({
        time: Date.parse(r.time),
        kind: alertKindOf(r),
        alert: r.type === "alert" ? r.kind : undefined,
        actor: r.actor.id,
      });
    }
    this.#size = size;
    if (this.#seen.length > MAX_SCAN) this.#seen = this.#seen.slice(-MAX_SCAN);
    return this.#seen;
  }
}

const recent = new WeakMap<ServiceContext, RecentEntries>();

/** Alert records due after `appended` were stored (empty almost always). */
export function dueAlerts(ctx: ServiceContext, appended: readonly RecordInput[]): RecordInput[] {
  const kinds = new Set(
    appended.map((r) => alertKindOf(r as OperationRecord)).filter((k): k is CountedKind => k !== undefined),
  );
  if (kinds.size === 0) return [];
  const windowMinutes = ctx.config.alerts.windowMinutes;
  const since = ctx.now().getTime() - windowMinutes * 60_000;
  const counts = new Map<CountedKind, { n: number; subjects: Map<string, number> }>();
  const alerted = new Set<AlertKind>();
  let window = recent.get(ctx);
  if (window === undefined) recent.set(ctx, (window = new RecentEntries()));
  const seen = window.update(ctx);
  // Newest first, as far back as the window (or the newest MAX_SCAN entries) reaches.
  for (let i = seen.length - 1; i >= 0; i--) {
    const r = seen[i] as Seen;
    if (r.time < since) break;
    if (r.alert !== undefined) alerted.add(r.alert);
    const kind = r.kind;
    if (kind === undefined || !kinds.has(kind)) continue;
    const c = counts.get(kind) ?? { n: 0, subjects: new Map<string, number>() };
    c.n++;
    c.subjects.set(r.actor, (c.subjects.get(r.actor) ?? 0) + 1);
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
