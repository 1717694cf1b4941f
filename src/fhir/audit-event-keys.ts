/**
 * The search index's view of an AuditEvent (service/audit/audit-event-index.ts keeps it in service.db): the
 * keys an event is found under, and the key groups a search asks for — the same semantics as
 * `matchesAuditEvent`, so an indexed search answers exactly what a scan of the ledger would (the
 * property test in audit-event-keys.test.ts holds them together). Dates, paging, visibility and labels
 * are columns of the index, not keys.
 */
import type { AuditEvent } from "./audit-event.js";
import { agentValues, entityValues, type AuditEventCriteria } from "./audit-event-search.js";
import type { Coding } from "./resource-types.js";

const codingKeys = (prefix: string, c: Coding): string[] => [
  `${prefix}:${c.code}`,
  `${prefix}:${c.system}|${c.code}`,
];

/** Every key the event is found under. */
export function searchKeysOf(e: AuditEvent): string[] {
  const keys = new Set<string>([
    ...codingKeys("type", e.type),
    ...(e.subtype ?? []).flatMap((s) => codingKeys("subtype", s)),
    `outcome:${e.outcome}`,
    ...[...agentValues(e)].map((v) => `agent:${v}`),
    ...[...entityValues(e)].map((v) => `entity:${v}`),
  ]);
  return [...keys];
}

/**
 * The criteria as groups of keys: an event matches when, for every group, it has at least one of the
 * group's keys (AND of ORs, like the search parameters).
 */
export function criteriaKeyGroups(c: AuditEventCriteria): string[][] {
  const token = (prefix: string, t: { system?: string; code: string }) =>
    t.system === undefined ? `${prefix}:${t.code}` : `${prefix}:${t.system}|${t.code}`;
  return [
    ...c.types.map((or) => or.map((t) => token("type", t))),
    ...c.subtypes.map((or) => or.map((t) => token("subtype", t))),
    ...c.outcomes.map((or) => or.map((o) => `outcome:${o}`)),
    ...c.agents.map((or) => or.map((v) => `agent:${v.includes("|") ? v.slice(v.indexOf("|") + 1) : v}`)),
    ...c.entities.map((or) => or.map((v) => `entity:${v}`)),
  ];
}
