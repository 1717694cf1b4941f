/**
 * The small API pieces the browser UI's working day needs, over real TLS against a real node: device
 * names and removal (and the names in trails), the warning before the last login attempt, the office's
 * unlock, the office's institution overview, and the Japanese item names and source columns for a
 * transfer's issues. Each change is on the ledger; each bad input gets a coded answer and changes
 * nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiClient, ApiResponse } from "../src/client/api-client.js";
import { uploadExport } from "../src/client/transfer-client.js";
import { expectCode, expectStatus, ledgerRecords, newDeviceKey, NEW_PASSWORD } from "./support/test-node.js";
import { exampleExport, startTransferNode, type TransferNode } from "./support/transfer-fixtures.js";

let t: TransferNode;

beforeAll(async () => {
  t = await startTransferNode({ config: { lockout: { maxFailures: 3, minutes: 30 } } });
});

afterAll(async () => {
  await t.node.close();
});

interface Extension {
  url: string;
  valueInteger?: number;
  valueInstant?: string;
}

function extensionsOf(r: ApiResponse): Extension[] {
  return (r.json as { issue: { extension?: Extension[] }[] }).issue[0]?.extension ?? [];
}

const devicesOf = async (c: ApiClient) =>
  ((await c.get("/api/v1/devices")).json as { devices: { id: string; label: string; createdAt: string }[] })
    .devices;

describe("devices: names and removal", () => {
  it("renames a device, shows the name in the trail, removes another device but never the current one", async () => {
    const receiver = t.receiver;
    const [first] = await devicesOf(receiver);
    if (!first) throw new Error("the receiver has no device");

    const renamed = await receiver.post(`/api/v1/devices/${first.id}/label`, { label: "受付のパソコン" });
    expectStatus(renamed, 200);
    expect((await devicesOf(receiver)).map((d) => d.label)).toEqual(["受付のパソコン"]);

    // Bad names and unknown devices: coded answers, nothing changes.
    expectCode(
      await receiver.post(`/api/v1/devices/${first.id}/label`, { label: "  " }),
      400,
      "REQUEST_INVALID",
    );
    expectCode(
      await receiver.post(`/api/v1/devices/${first.id}/label`, { label: "x".repeat(61) }),
      400,
      "REQUEST_INVALID",
    );
    expectCode(
      await receiver.post(`/api/v1/devices/${first.id}/label`, { label: "a", extra: 1 }),
      400,
      "REQUEST_INVALID",
    );
    expectCode(await receiver.post("/api/v1/devices/not-a-device/label", { label: "a" }), 404, "NOT_FOUND");
    // Another account's device is as unknown as a missing one.
    const [senderDevice] = await devicesOf(t.sender);
    expectCode(
      await receiver.post(`/api/v1/devices/${senderDevice?.id ?? ""}/label`, { label: "a" }),
      404,
      "NOT_FOUND",
    );
    expectCode(await receiver.del(`/api/v1/devices/${senderDevice?.id ?? ""}`), 404, "NOT_FOUND");
    expect((await devicesOf(receiver)).map((d) => d.label)).toEqual(["受付のパソコン"]);

    // The device signing the request cannot remove itself.
    expectCode(await receiver.del(`/api/v1/devices/${first.id}`), 409, "DEVICE_IN_USE");

    // A second browser for the same ID (confirmed), then removed from the first one.
    const a = t.node.account("receiver");
    const second = t.node.client("receiver");
    second.setDeviceKey(await newDeviceKey());
    expect((await second.login(a.loginId, NEW_PASSWORD)).status).toBe(201);
    expectStatus(await second.registerDevice({ label: "2台目", confirmAdditional: true }), 201);
    const both = await devicesOf(receiver);
    expect(both.map((d) => d.label)).toEqual(["受付のパソコン", "2台目"]);
    const secondId = both[1]?.id ?? "";
    expectStatus(await receiver.del(`/api/v1/devices/${secondId}`), 204);
    expect((await devicesOf(receiver)).map((d) => d.id)).toEqual([first.id]);
    // The removed key signs nothing any more.
    expectCode(await second.post("/api/v1/lookup", { sha256: "0".repeat(64) }), 404, "NOT_FOUND");
    expectCode(await second.del(`/api/v1/devices/${first.id}`), 428, "DEVICE_NOT_REGISTERED");

    const records = ledgerRecords(t.node.ctx);
    const admin = (action: string) =>
      records
        .filter((r) => r.type === "admin" && r.action === action)
        .map((r) => (r.type === "admin" ? r.target.id : ""));
    expect(admin("device.update")).toEqual([first.id]);
    expect(admin("device.remove")).toEqual([secondId]);

    // The trail of a transfer names the devices that signed its entries.
    const upload = await uploadExport(t.sender, t.receiverId, exampleExport());
    expect(upload.status).toBe(201);
    const id = (upload.json as { transfer: { id: string } }).transfer.id;
    expectStatus(await t.sender.post(`/api/v1/transfers/${id}/send`), 200);
    const trail = await receiver.get(`/api/v1/transfers/${id}/trail`);
    expectStatus(trail, 200);
    const labels = (trail.json as { deviceLabels: Record<string, string> }).deviceLabels;
    expect(labels).toEqual({ [senderDevice?.id ?? ""]: senderDevice?.label ?? "" });
  });
});

describe("login attempts: warning, lock-out, unlock", () => {
  it("warns before the last attempt, says until when the ID is locked, and the office can unlock it", async () => {
    const a = t.node.account("sender");
    const other = t.node.client("sender");
    const first = await other.login(a.loginId, "wrong-1");
    expectCode(first, 401, "AUTH_FAILED");
    expect(extensionsOf(first)).toEqual([]);
    const second = await other.login(a.loginId, "wrong-2");
    expectCode(second, 401, "AUTH_FAILED");
    expect(extensionsOf(second)).toEqual([
      { url: "urn:kenshin-exchange:outcome:attemptsLeft", valueInteger: 1 },
    ]);
    const locked = await other.login(a.loginId, "wrong-3");
    expectCode(locked, 423, "AUTH_LOCKED");
    const until = extensionsOf(locked).find((e) => e.url.endsWith(":lockedUntil"))?.valueInstant ?? "";
    expect(Date.parse(until) - t.node.clock.ms()).toBeGreaterThan(29 * 60_000);
    // Locked: the right password does not help either.
    expectCode(await other.login(a.loginId, NEW_PASSWORD), 423, "AUTH_LOCKED");

    // The office sees the lock in its overview, unlocks, and the ID works again.
    const overview = async () =>
      (
        (await t.office.get("/api/v1/admin/institutions")).json as {
          institutions: {
            id: string;
            loginId: string | null;
            lockedUntil: string | null;
            lastLoginAt: string | null;
            mapping: { name: string } | null;
            validCertificates: number;
          }[];
        }
      ).institutions.find((i) => i.id === t.senderId);
    expect((await overview())?.lockedUntil).toBe(until);
    expectCode(await t.sender.post(`/api/v1/admin/accounts/${a.loginId}/unlock`), 403, "AUTH_FORBIDDEN");
    expectCode(await t.office.post("/api/v1/admin/accounts/no-such-id/unlock"), 404, "NOT_FOUND");
    expectCode(await t.office.post("/api/v1/admin/accounts/%20bad/unlock"), 404, "NOT_FOUND");
    const unlocked = await t.office.post(`/api/v1/admin/accounts/${a.loginId}/unlock`);
    expectStatus(unlocked, 200);
    expect(unlocked.json).toEqual({ loginId: a.loginId, wasLocked: true });
    expect((await overview())?.lockedUntil).toBeNull();
    expect((await other.login(a.loginId, NEW_PASSWORD)).status).toBe(201);

    const o = await overview();
    expect(o?.loginId).toBe(a.loginId);
    expect(Date.parse(o?.lastLoginAt ?? "")).toBeGreaterThan(0);
    expect(o?.mapping?.name).toBe("さくら健診センター 健診システム標準出力");
    expect(o?.validCertificates).toBe(1);
    const unlocks = ledgerRecords(t.node.ctx).filter(
      (r) => r.type === "admin" && r.action === "account.unlock",
    );
    expect(unlocks.map((r) => [r.actor.id, r.type === "admin" ? r.target.id : "", r.outcomeDesc])).toEqual([
      [t.node.account("office").loginId, a.loginId, "locked"],
    ]);
  });
});

describe("transfer detail: names and columns for the issues", () => {
  it("gives the Japanese item name and the export's column for every item an issue names", async () => {
    const upload = await uploadExport(t.sender, t.receiverId, exampleExport());
    expect(upload.status).toBe(201);
    const id = (upload.json as { transfer: { id: string } }).transfer.id;
    const detail = await t.sender.get(`/api/v1/transfers/${id}`);
    expectStatus(detail, 200);
    const d = detail.json as {
      report: { issues: { code: string; item?: string }[] };
      itemLabels: Record<string, { name: string; columns: string[] }>;
    };
    const keyMissing = d.report.issues.find((i) => i.code === "RECORD_KEY_MISSING");
    expect(keyMissing?.item).toBe("exam-date");
    expect(d.itemLabels["exam-date"]).toEqual({ name: "実施日", columns: ["受診日"] });
    // Every item named by an issue has a label, and only those.
    const named = new Set(d.report.issues.flatMap((i) => (i.item === undefined ? [] : [i.item])));
    expect(new Set(Object.keys(d.itemLabels))).toEqual(named);
  });
});
