/**
 * Monitoring (L6) and time (T1) over real mutual TLS: a burst of failed logins beyond the configured
 * threshold becomes one alert entry — an AuditEvent of type Security Alert and a line in the office's
 * monitoring view — and no second alert inside the window; /health and the monitoring view report the
 * clock's synchronisation and the configured time servers; ledger times never go backwards when the
 * clock is set back.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEvent } from "../src/fhir/audit-event.js";
import type { SearchsetBundle } from "../src/fhir/bundle.js";
import { expectValidFhir } from "./support/fhir-validator.js";
import { expectStatus, ledgerRecords, type TestNode } from "./support/test-node.js";
import { startTransferNode, type TransferNode } from "./support/transfer-fixtures.js";

let t: TransferNode;
let node: TestNode;

beforeAll(async () => {
  t = await startTransferNode({ config: { alerts: { windowMinutes: 10, authFailures: 3 } } });
  node = t.node;
}, 120_000);

afterAll(async () => {
  await node.close();
});

describe("monitoring alerts", () => {
  it("failed logins beyond the threshold raise exactly one alert: an entry, an AuditEvent, a monitoring line", async () => {
    const attacker = node.client("sender");
    const loginId = node.account("sender").loginId;
    for (let i = 0; i < 4; i++)
      expect((await attacker.login(loginId, `wrong-password-${i}`)).status).toBe(401);
    const alerts = ledgerRecords(node.ctx).filter((r) => r.type === "alert");
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ kind: "auth-failures", threshold: 3, windowMinutes: 10 });
    expect((alerts[0] as { count: number }).count).toBeGreaterThan(3);

    const r = await t.office.get("/fhir/AuditEvent?subtype=monitoring-alert");
    expectValidFhir(r.json);
    const events = ((r.json as SearchsetBundle<AuditEvent>).entry ?? []).map((e) => e.resource);
    expect(events.map((e) => [e.type.code, e.subtype?.[0]?.code])).toEqual([["110113", "monitoring-alert"]]);

    const mon = await t.office.get("/api/v1/admin/monitoring");
    expectStatus(mon, 200);
    expect((mon.json as { alerts: { kind: string }[] }).alerts.map((a) => a.kind)).toEqual(["auth-failures"]);

    // More failures inside the same window: no second alert.
    // (The account locks after 5 failures: a locked attempt is a failed login too.)
    expect([401, 423]).toContain((await attacker.login(loginId, "wrong-password-x")).status);
    expect(ledgerRecords(node.ctx).filter((x) => x.type === "alert")).toHaveLength(1);
    // After the window, a new burst alerts again.
    node.clock.advance(11 * 60_000);
    for (let i = 0; i < 4; i++) await attacker.login(loginId, `wrong-again-${i}`);
    expect(ledgerRecords(node.ctx).filter((x) => x.type === "alert")).toHaveLength(2);
  });
});

describe("time", () => {
  it("/health and the monitoring view report the clock status and the configured servers (ntp.nict.jp)", async () => {
    const health = await t.sender.get("/api/v1/health");
    expectStatus(health, 200);
    const time = (health.json as { time: { configured: string[]; synchronized: unknown; source: unknown } })
      .time;
    expect(time.configured).toEqual(["ntp.nict.jp"]);
    expect([true, false, null]).toContain(time.synchronized);
    const mon = await t.office.get("/api/v1/admin/monitoring");
    expect((mon.json as { time: { configured: string[] } }).time.configured).toEqual(["ntp.nict.jp"]);
  });

  it("ledger times never go backwards when the wall clock is set back an hour", async () => {
    const before = ledgerRecords(node.ctx).at(-1)?.time ?? "";
    node.clock.advance(-60 * 60_000);
    expect((await node.client("receiver").login(node.account("receiver").loginId, "wrong-pw-1")).status).toBe(
      401,
    );
    const records = ledgerRecords(node.ctx);
    const after = records.at(-1)?.time ?? "";
    expect(after >= before).toBe(true);
    for (let i = 1; i < records.length; i++) {
      expect((records[i]?.time ?? "") >= (records[i - 1]?.time ?? ""), `entry ${i}`).toBe(true);
    }
  });
});
