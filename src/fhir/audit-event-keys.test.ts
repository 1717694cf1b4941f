import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sampleRecords } from "../../test/support/sample-records.js";
import { auditEventOf, type AuditEvent } from "./audit-event.js";
import { criteriaKeyGroups, searchKeysOf } from "./audit-event-keys.js";
import { matchesAuditEvent, parseAuditEventSearch } from "./audit-event-search.js";

const events: AuditEvent[] = sampleRecords().map((record, index) =>
  auditEventOf({ index, leafHash: index.toString(16).padStart(64, "0"), record, origin: "o" }),
);

/** Values that occur in the events (so searches hit), and some that do not. */
const pool = (pick: (e: AuditEvent) => string[]) => [...new Set(events.flatMap(pick)), "none-such"];
const types = pool((e) => [e.type.code, `${e.type.system}|${e.type.code}`, `|${e.type.code}`]);
const subtypes = pool((e) => (e.subtype ?? []).flatMap((s) => [s.code, `${s.system}|${s.code}`]));
const agents = pool((e) =>
  e.agent.flatMap((a) =>
    a.who.identifier ? [a.who.identifier.value, `${a.who.identifier.system}|${a.who.identifier.value}`] : [],
  ),
);
const entities = pool((e) =>
  (e.entity ?? []).flatMap((x) =>
    x.what?.identifier ? [x.what.identifier.value, `ledger:${x.what.identifier.value}`] : [],
  ),
);
const outcomes = ["0", "4", "8", "12"];

const param = (name: string, values: string[]) =>
  fc
    .array(fc.array(fc.constantFrom(...values), { minLength: 1, maxLength: 3 }), { maxLength: 2 })
    .map((groups) => groups.map((g) => [name, g.join(",")] as const));

describe("search keys agree with matchesAuditEvent", () => {
  it("for random searches over every kind of event: keys found ⇔ the event matches", () => {
    fc.assert(
      fc.property(
        param("type", types),
        param("subtype", subtypes),
        param("agent", agents),
        param("entity", entities),
        param("outcome", outcomes),
        (...parts) => {
          const params = new Map<string, string[]>();
          for (const [name, value] of parts.flat()) params.set(name, [...(params.get(name) ?? []), value]);
          const criteria = parseAuditEventSearch(params);
          const groups = criteriaKeyGroups(criteria);
          for (const e of events) {
            const keys = new Set(searchKeysOf(e));
            const byKeys = groups.every((g) => g.some((k) => keys.has(k)));
            expect(byKeys, `${JSON.stringify([...params])} on ${e.id}`).toBe(matchesAuditEvent(e, criteria));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
