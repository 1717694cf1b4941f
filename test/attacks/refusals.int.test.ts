/**
 * Attack 7 (issue 15): refusals that left no trace. CSRF failures, device-signature failures, refused
 * reads of a transfer and failed look-ups were not ledger entries, although the README says every
 * refusal is; and a device-signature header whose `sig` was not the last parameter was recorded wrongly.
 * Now each is a `denial` entry, at most 60 per address and ID per minute (the rest counted and reported
 * by the next entry), and the signature is recorded exactly as sent. Real node, real TLS; the server's
 * clock is moved by the test instead of sleeping.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiClient } from "../../src/client/api-client.js";
import type { OperationRecord } from "../../src/ledger/entry/operation-record.js";
import { expectCode, expectStatus } from "../support/test-node.js";
import {
  createLoggedInReceiver,
  entriesSince,
  exampleExport,
  startTransferNode,
  type TransferNode,
} from "../support/transfer-fixtures.js";
import { uploadExport } from "../../src/client/transfer-client.js";
import type { TransferView } from "../../src/service/transfers/view.js";

let t: TransferNode;
let outsider: { client: ApiClient; institutionId: string };
let officeId: string;

beforeAll(async () => {
  t = await startTransferNode();
  outsider = await createLoggedInReceiver(t.node, t.office, "詮索する受信機関");
  officeId = t.node.account("office").loginId;
});

afterAll(async () => {
  await t.node.close();
});

type Denial = Extract<OperationRecord, { type: "denial" }>;
const denialsOf = (records: readonly OperationRecord[], loginId?: string): Denial[] =>
  records.filter(
    (r): r is Denial => r.type === "denial" && (loginId === undefined || r.actor.id === loginId),
  );

describe("attack: refused requests must leave a trace", () => {
  it("a state change with a wrong CSRF token is a denial entry (AUTH_CSRF_INVALID)", async () => {
    const before = t.node.ctx.ledger.size();
    const r = await t.office.request("POST", "/api/v1/admin/institutions", {
      json: { kind: "receiver", name: "csrf" },
      headers: { "x-csrf-token": "forged" },
    });
    expectCode(r, 403, "AUTH_CSRF_INVALID");
    expect(denialsOf(entriesSince(t.node.ctx, before), officeId)).toContainEqual(
      expect.objectContaining({ action: "request", code: "AUTH_CSRF_INVALID" }),
    );
  });

  it("a state change with a tampered device signature is a denial entry (DEVICE_SIGNATURE_INVALID)", async () => {
    const before = t.node.ctx.ledger.size();
    const body = JSON.stringify({ kind: "receiver", name: "tampered" });
    const header = await t.office.sign("POST", "/api/v1/admin/institutions", Buffer.from(body));
    // Sign one body, send another.
    const r = await t.office.request("POST", "/api/v1/admin/institutions", {
      body: JSON.stringify({ kind: "receiver", name: "tampereD" }),
      contentType: "application/json",
      sign: false,
      headers: { "x-kenshin-device": header },
    });
    expectCode(r, 401, "DEVICE_SIGNATURE_INVALID");
    expect(denialsOf(entriesSince(t.node.ctx, before), officeId)).toContainEqual(
      expect.objectContaining({ action: "request", code: "DEVICE_SIGNATURE_INVALID" }),
    );
  });

  it("a refused read of another party's transfer and a failed look-up are denial entries", async () => {
    const up = await uploadExport(t.sender, t.receiverId, exampleExport());
    expectStatus(up, 201);
    const transfer = (up.json as { transfer: TransferView }).transfer;
    const before = t.node.ctx.ledger.size();
    expectCode(await outsider.client.get(`/api/v1/transfers/${transfer.id}`), 404, "NOT_FOUND");
    expectCode(await outsider.client.get(`/api/v1/transfers/${transfer.id}/trail`), 404, "NOT_FOUND");
    expectCode(
      await outsider.client.post("/api/v1/lookup", { sha256: transfer.original.sha256 }),
      404,
      "NOT_FOUND",
    );
    expectCode(await outsider.client.post("/api/v1/lookup", { sha256: "00".repeat(32) }), 404, "NOT_FOUND");
    const loginId = (await outsider.client.get("/api/v1/session")).json as { loginId: string };
    const mine = denialsOf(entriesSince(t.node.ctx, before), loginId.loginId);
    expect(mine.map((d) => d.action).sort()).toEqual(["lookup", "lookup", "read", "trail"]);
    for (const d of mine) expect(d.code).toBe("NOT_FOUND");
  });
});

describe("attack: flood the ledger with refusals", () => {
  it("writes at most 60 denial entries per address and ID per minute, and the next one counts those left out", async () => {
    const probe = await createLoggedInReceiver(t.node, t.office, "大量に試す受信機関");
    const loginId = ((await probe.client.get("/api/v1/session")).json as { loginId: string }).loginId;
    const before = t.node.ctx.ledger.size();
    for (let i = 0; i < 100; i++) {
      expectCode(await probe.client.post("/api/v1/lookup", { sha256: "11".repeat(32) }), 404, "NOT_FOUND");
    }
    const written = denialsOf(entriesSince(t.node.ctx, before), loginId);
    expect(written.length).toBe(60);
    t.node.clock.advance(61_000);
    const later = t.node.ctx.ledger.size();
    expectCode(await probe.client.post("/api/v1/lookup", { sha256: "11".repeat(32) }), 404, "NOT_FOUND");
    const next = denialsOf(entriesSince(t.node.ctx, later), loginId);
    expect(next).toHaveLength(1);
    expect(next[0]?.outcomeDesc).toContain("40 similar refusals not recorded");
  });
});

describe("attack: reorder the device-signature header", () => {
  it("records the signature exactly as sent when `sig` is not the last parameter", async () => {
    const body = JSON.stringify({ kind: "receiver", name: "順序を変えた署名" });
    const header = await t.office.sign("POST", "/api/v1/admin/institutions", Buffer.from(body));
    const params = header.split(";");
    const sig = params.find((p) => p.startsWith("sig="))?.slice(4);
    if (sig === undefined) throw new Error("no sig");
    const reordered = ["v1", `sig=${sig}`, ...params.slice(1).filter((p) => !p.startsWith("sig="))].join(";");
    const before = t.node.ctx.ledger.size();
    const r = await t.office.request("POST", "/api/v1/admin/institutions", {
      body,
      contentType: "application/json",
      sign: false,
      headers: { "x-kenshin-device": reordered },
    });
    expect(r.status).toBe(201);
    const created = entriesSince(t.node.ctx, before).find(
      (e) => e.type === "admin" && e.action === "institution.create",
    );
    expect(created?.actor.device?.signature).toBe(sig);
  });
});
