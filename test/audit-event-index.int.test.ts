/**
 * The AuditEvent search index answers exactly what a scan of the ledger would: on a real node's ledger
 * (transfers sent, downloaded, received and discarded, failed logins, office actions, audit reads),
 * for random searches drawn from the values in it — types, subtypes, agents, entities, outcomes, dates
 * and `_before` — and for every reader (sender, receiver, a stranger, the office), the indexed page
 * equals the newest `_count` events that the scan finds visible (party rules), within the reader's
 * clearance (Z4) and matching. The index catches up with entries appended after it was built.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downloadStandard, uploadExport } from "../src/client/transfer-client.js";
import { auditEventOf, type AuditEvent } from "../src/fhir/audit-event.js";
import { matchesAuditEvent, parseAuditEventSearch } from "../src/fhir/audit-event-search.js";
import { permits, ROLE_CLEARANCE } from "../src/fhir/security-labels.js";
import { entryRef, ledgerSize } from "../src/service/audit/audit-entries.js";
import { catchUpAuditIndex, indexedSearch } from "../src/service/audit/audit-event-index.js";
import { entryVisibility } from "../src/service/audit/entry-visibility.js";
import { indexedUpTo } from "../src/store/audit-search-index.js";
import type { Session } from "../src/service/identity/sessions.js";
import type { TransferView } from "../src/service/transfers/view.js";
import { expectStatus, type TestNode } from "./support/test-node.js";
import {
  createLoggedInReceiver,
  exampleExport,
  institutionOf,
  startTransferNode,
  type TransferNode,
} from "./support/transfer-fixtures.js";

let t: TransferNode;
let node: TestNode;
let strangerId: string;

async function transfer(): Promise<TransferView> {
  const up = await uploadExport(t.sender, t.receiverId, exampleExport());
  expectStatus(up, 201);
  return (up.json as { transfer: TransferView }).transfer;
}

beforeAll(async () => {
  t = await startTransferNode();
  node = t.node;
  const sent = await transfer();
  expectStatus(await t.sender.post(`/api/v1/transfers/${sent.id}/send`), 200);
  expect("bytes" in (await downloadStandard(t.receiver, sent.id))).toBe(true);
  expectStatus(await t.receiver.post(`/api/v1/transfers/${sent.id}/receipt`), 200);
  const unsent = await transfer();
  await t.sender.post(`/api/v1/transfers/${unsent.id}/discard`);
  await transfer();
  for (const who of ["sender", "receiver"] as const) {
    await node.client(who).login(node.account(who).loginId, "wrong-password-1");
  }
  const stranger = await createLoggedInReceiver(node, t.office, "別の保険者");
  strangerId = await institutionOf(stranger.client);
  await stranger.client.get(`/api/v1/transfers/${sent.id}`);
  await t.sender.get("/fhir/AuditEvent?_count=5");
  await t.office.get("/fhir/AuditEvent?outcome=8");
}, 240_000);

afterAll(async () => {
  await node.close();
});

function sessionOf(role: Session["role"], institution: string): Session {
  return { role, institution: { id: institution } } as unknown as Session;
}

describe("indexed AuditEvent search = scan of the ledger", () => {
  it("for random searches and every reader", async () => {
    catchUpAuditIndex(node.ctx);
    const size = ledgerSize(node.ctx);
    const events: { index: number; event: AuditEvent }[] = [];
    for (let i = 0; i < size; i++) events.push({ index: i, event: auditEventOf(entryRef(node.ctx, i)) });
    expect(size).toBeGreaterThan(30);
    const readers = [
      sessionOf("sender", await institutionOf(t.sender)),
      sessionOf("receiver", t.receiverId),
      sessionOf("receiver", strangerId),
      sessionOf("admin", await institutionOf(t.office)),
    ];
    const pool = (pick: (e: AuditEvent) => string[]) => [
      ...new Set(events.flatMap(({ event }) => pick(event))),
      "none-such",
    ];
    const values = {
      type: pool((e) => [e.type.code, `${e.type.system}|${e.type.code}`]),
      subtype: pool((e) => (e.subtype ?? []).map((s) => s.code)),
      agent: pool((e) => e.agent.flatMap((a) => (a.who.identifier ? [a.who.identifier.value] : []))),
      entity: pool((e) =>
        (e.entity ?? []).flatMap((x) => (x.what?.identifier ? [x.what.identifier.value] : [])),
      ),
      outcome: ["0", "4", "8"],
      date: [
        ...new Set(
          events.flatMap(({ event: e }) => [
            `ge${e.recorded}`,
            `lt${e.recorded}`,
            `eq${e.recorded.slice(0, 10)}`,
          ]),
        ),
        "lt2000-01-01",
      ],
    };
    const param = (name: keyof typeof values) =>
      fc
        .array(fc.array(fc.constantFrom(...values[name]), { minLength: 1, maxLength: 2 }), { maxLength: 1 })
        .map((groups) => groups.map((g) => [name, g.join(",")] as const));
    fc.assert(
      fc.property(
        param("type"),
        param("subtype"),
        param("agent"),
        param("entity"),
        param("outcome"),
        // Dates do not take comma lists; two date parameters are ANDed.
        fc
          .array(fc.constantFrom(...values.date), { maxLength: 2 })
          .map((list) => list.map((v) => ["date", v] as const)),
        fc.integer({ min: 1, max: 8 }),
        fc.option(fc.integer({ min: 1, max: size }), { nil: undefined }),
        fc.constantFrom(...readers),
        (types, subtypes, agents, entities, outcomes, dates, count, before, reader) => {
          const params = new Map<string, string[]>([["_count", [String(count)]]]);
          if (before !== undefined) params.set("_before", [String(before)]);
          for (const [name, value] of [
            ...types,
            ...subtypes,
            ...agents,
            ...entities,
            ...outcomes,
            ...dates,
          ]) {
            params.set(name, [...(params.get(name) ?? []), value]);
          }
          const criteria = parseAuditEventSearch(params);
          const visible = entryVisibility(node.ctx, reader);
          const clearance = ROLE_CLEARANCE[reader.role];
          const scanned = events
            .filter(
              ({ index, event }) =>
                (before === undefined || index < before) &&
                visible(entryRef(node.ctx, index).record) &&
                permits(clearance, event.meta.security) &&
                matchesAuditEvent(event, criteria),
            )
            .map(({ index }) => index)
            .reverse()
            .slice(0, count);
          const indexed = indexedSearch(node.ctx, criteria, {
            party: reader.role === "admin" ? undefined : reader.institution.id,
            clearance,
            limit: count,
          });
          expect(indexed, JSON.stringify([...params, reader.role])).toEqual(scanned);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("catches up with entries appended after it was built, and only with those", async () => {
    catchUpAuditIndex(node.ctx);
    expect(catchUpAuditIndex(node.ctx)).toBe(0);
    const before = ledgerSize(node.ctx);
    await transfer();
    expect(ledgerSize(node.ctx)).toBeGreaterThan(before);
    // (The server's background step may have indexed some meanwhile: count what is still pending.)
    const pending = ledgerSize(node.ctx) - indexedUpTo(node.ctx.db);
    expect(catchUpAuditIndex(node.ctx)).toBe(pending);
    expect(indexedUpTo(node.ctx.db)).toBe(ledgerSize(node.ctx));
    const newest = indexedSearch(node.ctx, parseAuditEventSearch(new Map([["_count", ["1"]]])), {
      party: undefined,
      clearance: "R",
      limit: 1,
    });
    expect(newest).toEqual([ledgerSize(node.ctx) - 1]);
  });

  it("follows the ledger in the background while the server runs, without any search", async () => {
    await transfer();
    await transfer();
    const size = ledgerSize(node.ctx);
    for (let i = 0; i < 100 && indexedUpTo(node.ctx.db) < size; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(indexedUpTo(node.ctx.db)).toBeGreaterThanOrEqual(size);
  });
});
