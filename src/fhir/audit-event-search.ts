/**
 * AuditEvent search parameters (http://hl7.org/fhir/R4/auditevent.html#search): parsed once, strictly
 * — an unknown parameter, a malformed date or token, or an out-of-range `_count` is a coded error, never
 * ignored — and matched against built AuditEvents. Paging is by ledger index (`_before`: entries older
 * than that index), so pages stay stable while new entries are appended.
 */
import type { AuditEvent } from "./audit-event.js";
import { FhirError } from "./errors.js";
import { SYSTEM } from "./systems.js";

type DatePrefix = "eq" | "ge" | "gt" | "le" | "lt";

interface DateBound {
  readonly prefix: DatePrefix;
  /** [start, end) in ms of the value's precision (a day, a second, a millisecond). */
  readonly start: number;
  readonly end: number;
}

interface Token {
  readonly system?: string;
  readonly code: string;
}

export interface AuditEventCriteria {
  readonly dates: readonly DateBound[];
  /** Each parameter repeated = AND; comma-separated values inside one = OR. */
  readonly agents: readonly (readonly string[])[];
  readonly entities: readonly (readonly string[])[];
  readonly types: readonly (readonly Token[])[];
  readonly subtypes: readonly (readonly Token[])[];
  readonly outcomes: readonly (readonly string[])[];
  /**
   * `patient=`: standard-record hashes (audit-patient.ts). A search that names patients answers with
   * the per-patient AuditEvents of the entries that touched those records; others with entry events.
   */
  readonly patients: readonly (readonly string[])[];
  readonly count: number;
  /** Only entries with index < before (the next page's cursor). */
  readonly before?: number;
  /** The search as a canonical query string (for links and the audit record). */
  readonly canonical: string;
}

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 100;
const MAX_VALUES = 20;
const MAX_VALUE_CHARS = 200;

/** Dates without an offset are read in Japan time, the service's local time (FHIR search: server local). */
const LOCAL_OFFSET = "+09:00";

const bad = (param: string, why: string): FhirError =>
  new FhirError("FHIR_SEARCH_INVALID", `検索条件が正しくありません: ${param} (${why})`, { param });

function parseDate(raw: string): DateBound {
  const m =
    /^(eq|ge|gt|le|lt)?(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/.exec(
      raw,
    );
  if (!m) throw bad("date", "YYYY-MM-DD または日時");
  const prefix = (m[1] ?? "eq") as DatePrefix;
  const day = m[2] as string;
  const time = m[3];
  if (time === undefined) {
    const start = Date.parse(`${day}T00:00:00${LOCAL_OFFSET}`);
    if (!Number.isFinite(start)) throw bad("date", "存在しない日付");
    return { prefix, start, end: start + 86_400_000 };
  }
  const hasZone = /(?:Z|[+-]\d{2}:\d{2})$/.test(time);
  const text = `${day}${time}${hasZone ? "" : LOCAL_OFFSET}`;
  const start = Date.parse(text);
  if (!Number.isFinite(start)) throw bad("date", "存在しない日時");
  const fraction = /\.(\d{1,3})/.exec(time)?.[1];
  const precision =
    fraction !== undefined ? 10 ** (3 - fraction.length) : /T\d{2}:\d{2}:\d{2}/.test(time) ? 1000 : 60_000;
  return { prefix, start, end: start + precision };
}

function parseToken(raw: string): Token {
  const bar = raw.indexOf("|");
  if (bar < 0) return { code: raw };
  const system = raw.slice(0, bar);
  const code = raw.slice(bar + 1);
  if (code === "" || code.includes("|")) throw bad("token", "system|code");
  return system === "" ? { code } : { system, code };
}

function values(param: string, raw: string): string[] {
  if (raw.length > MAX_VALUE_CHARS) throw bad(param, "長すぎます");
  const list = raw.split(",");
  if (list.length > MAX_VALUES || list.some((v) => v === "")) throw bad(param, "値の数または空の値");
  return list;
}

const KNOWN = new Set([
  "date",
  "patient",
  "agent",
  "entity",
  "type",
  "subtype",
  "outcome",
  "_count",
  "_before",
  "_format",
]);

/**
 * Parses the search. `params` is what the HTTP layer decoded: each name with its values in order.
 * @throws FhirError FHIR_SEARCH_INVALID
 */
export function parseAuditEventSearch(params: ReadonlyMap<string, readonly string[]>): AuditEventCriteria {
  let total = 0;
  for (const [name, list] of params) {
    if (!KNOWN.has(name)) throw bad(name, "対応していない検索パラメータ");
    total += list.length;
  }
  if (total > 50) throw bad("*", "パラメータが多すぎます");
  const all = (name: string) => params.get(name) ?? [];
  const single = (name: string): string | undefined => {
    const list = all(name);
    if (list.length > 1) throw bad(name, "一度だけ指定してください");
    return list[0];
  };
  const format = single("_format");
  if (format !== undefined && !["json", "application/fhir+json", "application/json"].includes(format)) {
    throw new FhirError("FHIR_FORMAT_UNSUPPORTED", "JSON 以外の形式には対応していません", {});
  }
  const countText = single("_count");
  const count = countText === undefined ? DEFAULT_COUNT : Number(countText);
  if (!/^\d{1,3}$/.test(countText ?? "20") || !Number.isInteger(count) || count < 1 || count > MAX_COUNT) {
    throw bad("_count", `1〜${MAX_COUNT}`);
  }
  const beforeText = single("_before");
  const before = beforeText === undefined ? undefined : Number(beforeText);
  if (beforeText !== undefined && (!/^\d{1,15}$/.test(beforeText) || !Number.isSafeInteger(before))) {
    throw bad("_before", "台帳の番号");
  }
  const outcomes = all("outcome").map((v) => values("outcome", v));
  if (outcomes.flat().some((o) => !["0", "4", "8", "12"].includes(o))) throw bad("outcome", "0, 4, 8, 12");
  // A patient is named by the SHA-256 of their record, bare or as identifier system|value.
  const patients = all("patient").map((v) =>
    values("patient", v).map((p) => {
      const bare = p.startsWith(`${SYSTEM.recordSha256}|`) ? p.slice(SYSTEM.recordSha256.length + 1) : p;
      if (!/^[0-9a-f]{64}$/.test(bare)) throw bad("patient", "レコードの SHA-256 (16進 64 桁)");
      return bare;
    }),
  );
  const criteria = {
    dates: all("date").map((v) => parseDate(v)),
    patients,
    agents: all("agent").map((v) => values("agent", v)),
    entities: all("entity").map((v) => values("entity", v)),
    types: all("type").map((v) => values("type", v).map(parseToken)),
    subtypes: all("subtype").map((v) => values("subtype", v).map(parseToken)),
    outcomes,
    count,
  };
  const canonical = new URLSearchParams(
    [...params.entries()]
      .filter(([name]) => name !== "_before" && name !== "_format")
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .flatMap(([name, list]) => list.map((v) => [name, v] as [string, string])),
  ).toString();
  return before === undefined ? { ...criteria, canonical } : { ...criteria, before, canonical };
}

/**
 * The date criteria as one half-open range [fromMs, toMs) of recorded time (they are ANDed), for an
 * index; `empty` when no instant can satisfy them all.
 */
export function dateRangeOf(c: AuditEventCriteria): { fromMs?: number; toMs?: number; empty: boolean } {
  let fromMs: number | undefined;
  let toMs: number | undefined;
  const lower = (v: number) => {
    fromMs = fromMs === undefined ? v : Math.max(fromMs, v);
  };
  const upper = (v: number) => {
    toMs = toMs === undefined ? v : Math.min(toMs, v);
  };
  for (const d of c.dates) {
    if (d.prefix === "eq") {
      lower(d.start);
      upper(d.end);
    } else if (d.prefix === "ge") lower(d.start);
    else if (d.prefix === "gt") lower(d.end);
    else if (d.prefix === "le") upper(d.end);
    else upper(d.start);
  }
  const empty = fromMs !== undefined && toMs !== undefined && fromMs >= toMs;
  return { ...(fromMs !== undefined ? { fromMs } : {}), ...(toMs !== undefined ? { toMs } : {}), empty };
}

function dateMatches(recordedMs: number, d: DateBound): boolean {
  switch (d.prefix) {
    case "eq":
      return recordedMs >= d.start && recordedMs < d.end;
    case "ge":
      return recordedMs >= d.start;
    case "gt":
      return recordedMs >= d.end;
    case "le":
      return recordedMs < d.end;
    case "lt":
      return recordedMs < d.start;
  }
}

/** What `agent=` matches: the agents' identifier values (login ID, institution, device, node). */
export function agentValues(e: AuditEvent): Set<string> {
  return new Set(e.agent.flatMap((a) => (a.who.identifier ? [a.who.identifier.value] : [])));
}

/** What `entity=` matches: transfer IDs, file hashes, targets and the ledger index (`ledger:<n>`). */
export function entityValues(e: AuditEvent): Set<string> {
  const out = new Set<string>();
  for (const x of e.entity ?? []) {
    const id = x.what?.identifier;
    if (!id) continue;
    out.add(id.system === SYSTEM.ledgerEntry ? `ledger:${id.value}` : id.value);
  }
  return out;
}

const tokenMatches = (coding: { system: string; code: string }, t: Token): boolean =>
  coding.code === t.code && (t.system === undefined || t.system === coding.system);

/** Whether an AuditEvent meets every criterion. */
export function matchesAuditEvent(e: AuditEvent, c: AuditEventCriteria): boolean {
  const recorded = Date.parse(e.recorded);
  if (!c.dates.every((d) => dateMatches(recorded, d))) return false;
  if (c.agents.length > 0) {
    const have = agentValues(e);
    if (!c.agents.every((or) => or.some((v) => have.has(v.includes("|") ? v.slice(v.indexOf("|") + 1) : v))))
      return false;
  }
  if (c.entities.length > 0) {
    const have = entityValues(e);
    if (!c.entities.every((or) => or.some((v) => have.has(v)))) return false;
  }
  if (!c.types.every((or) => or.some((t) => tokenMatches(e.type, t)))) return false;
  if (!c.subtypes.every((or) => or.some((t) => (e.subtype ?? []).some((s) => tokenMatches(s, t)))))
    return false;
  if (c.patients.length > 0) {
    const have = patientValues(e);
    if (!c.patients.every((or) => or.some((v) => have.has(v)))) return false;
  }
  return c.outcomes.every((or) => or.includes(e.outcome));
}

/** The patients an event is about: its patient entities' record hashes (type 1 Person, role 1 Patient). */
export function patientValues(e: AuditEvent): Set<string> {
  const out = new Set<string>();
  for (const x of e.entity ?? []) {
    const id = x.what?.identifier;
    if (x.role?.code === "1" && id?.system === SYSTEM.recordSha256) out.add(id.value);
  }
  return out;
}
