/**
 * Login, sessions, CSRF and device signatures over real HTTPS, with the server's clock moved forward
 * by the test instead of sleeping: lock-out and its expiry, idle and absolute session limits, logout,
 * CSRF refusals, replayed / stale / tampered / unregistered device signatures, a second device, the
 * forced password change, and the ledger (fsck) afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiClient, ApiDeviceKey } from "../src/client/api-client.js";
import { signRequest } from "../src/client/request-signing.js";
import {
  createReceiver,
  ensureSession,
  expectCode,
  expectStatus,
  firstLogin,
  fsckDataDir,
  ledgerRecords,
  newDeviceKey,
  NEW_PASSWORD,
  startTestNode,
  type IssuedTestAccount,
  type TestNode,
} from "./support/test-node.js";

const MINUTE = 60_000;

let node: TestNode;
let office: ApiClient;
let officeKey: ApiDeviceKey;
let officeLogin: { loginId: string; password: string };
/** IDs made before any clock move (certificates dated by the moved clock would not be valid yet). */
const pool: Record<
  "lock" | "idle" | "absolute" | "logout" | "devices" | "forced" | "other",
  IssuedTestAccount
> = {} as never;

beforeAll(async () => {
  node = await startTestNode();
  office = node.client("office");
  const a = node.account("office");
  const first = await firstLogin(office, a.loginId, a.password);
  officeKey = first.deviceKey;
  officeLogin = { loginId: a.loginId, password: first.password };
  for (const name of ["lock", "idle", "absolute", "logout", "devices", "forced", "other"] as const) {
    pool[name] = await createReceiver(office, `受信機関 ${name}`);
  }
});

afterAll(async () => {
  await node.close();
});

function clientOf(account: IssuedTestAccount): ApiClient {
  return node.clientWith({ certPem: account.certPem, keyPem: account.keyPem });
}

async function officeSession(): Promise<void> {
  await ensureSession(office, officeLogin.loginId, officeLogin.password);
}

const institutionBody = (name: string) => ({ kind: "receiver", name });

describe("CSRF", () => {
  it("refuses a state change without the CSRF token (403 AUTH_CSRF_INVALID)", async () => {
    await officeSession();
    const r = await office.request("POST", "/api/v1/admin/institutions", {
      json: institutionBody("csrf なし"),
      csrf: false,
    });
    expectCode(r, 403, "AUTH_CSRF_INVALID");
  });

  it("refuses a wrong CSRF token, including another session's", async () => {
    await officeSession();
    const other = node.client("office");
    other.setDeviceKey(officeKey);
    expect((await other.login(officeLogin.loginId, officeLogin.password)).status).toBe(201);
    const otherToken = other.session.csrfToken ?? "";
    expect(otherToken).not.toBe(office.session.csrfToken);
    for (const token of ["x", otherToken, `${office.session.csrfToken ?? ""}x`]) {
      const r = await office.request("POST", "/api/v1/admin/institutions", {
        json: institutionBody("csrf 違い"),
        headers: { "x-csrf-token": token },
      });
      expectCode(r, 403, "AUTH_CSRF_INVALID");
    }
    // Logout needs it too.
    expectCode(await office.request("DELETE", "/api/v1/session", { csrf: false }), 403, "AUTH_CSRF_INVALID");
    expectStatus(await other.logout(), 204);
  });
});

describe("device signatures", () => {
  const path = "/api/v1/admin/institutions";

  it("refuses the same signed request sent twice (DEVICE_SIGNATURE_REPLAYED)", async () => {
    await officeSession();
    const json = institutionBody("再送テスト");
    const header = await office.sign("POST", path, Buffer.from(JSON.stringify(json)));
    const first = await office.request("POST", path, { json, headers: { "x-kenshin-device": header } });
    expect(first.status).toBe(201);
    const again = await office.request("POST", path, { json, headers: { "x-kenshin-device": header } });
    expectCode(again, 409, "DEVICE_SIGNATURE_REPLAYED");
  });

  it("refuses a signature made 10 minutes ago (DEVICE_SIGNATURE_STALE)", async () => {
    await officeSession();
    const json = institutionBody("古い署名");
    const header = await signRequest({
      method: "POST",
      path,
      body: Buffer.from(JSON.stringify(json)),
      privateKey: officeKey.privateKey,
      deviceId: officeKey.deviceId,
      now: node.clock.ms() - 10 * MINUTE,
    });
    const r = await office.request("POST", path, { json, headers: { "x-kenshin-device": header } });
    expectCode(r, 401, "DEVICE_SIGNATURE_STALE");
  });

  it("refuses a body other than the one signed (DEVICE_SIGNATURE_INVALID)", async () => {
    await officeSession();
    const header = await office.sign(
      "POST",
      path,
      Buffer.from(JSON.stringify(institutionBody("署名した名前"))),
    );
    const r = await office.request("POST", path, {
      json: institutionBody("すり替えた名前"),
      headers: { "x-kenshin-device": header },
    });
    expectCode(r, 401, "DEVICE_SIGNATURE_INVALID");
    // …and another path with the same body.
    const h2 = await office.sign(
      "POST",
      "/api/v1/admin/links",
      Buffer.from(JSON.stringify(institutionBody("a"))),
    );
    const r2 = await office.request("POST", path, {
      json: institutionBody("a"),
      headers: { "x-kenshin-device": h2 },
    });
    expectCode(r2, 401, "DEVICE_SIGNATURE_INVALID");
  });

  it("answers a request from an unregistered device, or with no signature, with 428 DEVICE_NOT_REGISTERED", async () => {
    await officeSession();
    office.setDeviceKey(await newDeviceKey());
    try {
      expectCode(await office.post(path, institutionBody("未登録端末")), 428, "DEVICE_NOT_REGISTERED");
    } finally {
      office.setDeviceKey(officeKey);
    }
    const unsigned = await office.request("POST", path, { json: institutionBody("署名なし"), sign: false });
    expectCode(unsigned, 428, "DEVICE_NOT_REGISTERED");
    // Another account's registered device is not this account's device.
    const acct = pool.other;
    const other = clientOf(acct);
    const otherKey = await newDeviceKey();
    other.setDeviceKey(otherKey);
    expect((await other.login(acct.loginId, acct.temporaryPassword)).status).toBe(201);
    expect((await other.registerDevice({ label: "他アカウント" })).status).toBe(201);
    office.setDeviceKey(otherKey);
    try {
      expectCode(await office.post(path, institutionBody("他人の端末")), 428, "DEVICE_NOT_REGISTERED");
    } finally {
      office.setDeviceKey(officeKey);
    }
  });

  it("asks for confirmation of a second device (409), registers it with confirmAdditional (201) as a ledger entry the account sees", async () => {
    const acct = pool.devices;
    const client = clientOf(acct);
    await firstLogin(client, acct.loginId, acct.temporaryPassword);
    const before = (await client.get("/api/v1/devices")).json as { devices: unknown[] };

    const second = await newDeviceKey();
    client.setDeviceKey(second);
    expectCode(await client.registerDevice({ label: "二台目" }), 409, "DEVICE_CONFIRMATION_REQUIRED");
    const ok = await client.registerDevice({ label: "二台目", confirmAdditional: true });
    expect(ok.status).toBe(201);
    const device = (ok.json as { device: { id: string; ledgerIndex: number } }).device;
    expect(device.id).toBe(second.deviceId);
    const after = (await client.get("/api/v1/devices")).json as { devices: { id: string }[] };
    expect(after.devices).toHaveLength(before.devices.length + 1);

    const audit = await client.get("/api/v1/audit?limit=50");
    expect(audit.status).toBe(200);
    const entries = (audit.json as { entries: { index: number; entry: Record<string, unknown> }[] }).entries;
    expect(entries).toContainEqual({
      index: device.ledgerIndex,
      entry: expect.objectContaining({
        type: "admin",
        action: "device.register",
        target: { kind: "device", id: second.deviceId },
        outcomeDesc: expect.stringContaining("additional device") as unknown,
      }) as unknown,
    });
    // The new device signs requests that pass (this one fails later, on the wrong current password).
    expectCode(await client.changePassword("wrong-Current-1!", "Another#pass9x"), 422, "PASSWORD_WRONG");
  });
});

describe("forced password change", () => {
  it("lets a temporary password reach only session, devices and password; refuses weak passwords; then allows normal access", async () => {
    const acct = pool.forced;
    const client = clientOf(acct);
    client.setDeviceKey(await newDeviceKey());
    const login = await client.login(acct.loginId, acct.temporaryPassword);
    expect(login.status).toBe(201);
    expect((login.json as { mustChangePassword: boolean }).mustChangePassword).toBe(true);

    expectCode(await client.get("/api/v1/audit"), 403, "AUTH_PASSWORD_CHANGE_REQUIRED");
    expect((await client.get("/api/v1/session")).status).toBe(200);
    expect((await client.get("/api/v1/devices")).status).toBe(200);
    expect((await client.registerDevice({ label: "初回" })).status).toBe(201);

    for (const weak of [
      "Ab1!x", // too short
      "abcdefgh12", // no symbol
      "abcdefgh!!", // no digit
      `${acct.loginId.toLowerCase()}#9a`, // contains the ID
      "P@ssw0rd", // common
      "Password1!!", // common with a suffix
      "パスワード1234!abc", // not ASCII
    ]) {
      expectCode(await client.changePassword(acct.temporaryPassword, weak), 422, "PASSWORD_POLICY");
    }
    expectCode(
      await client.changePassword(acct.temporaryPassword, acct.temporaryPassword),
      422,
      "PASSWORD_POLICY",
    );
    expectCode(await client.changePassword("Not-the-current-1", NEW_PASSWORD), 422, "PASSWORD_WRONG");
    expectCode(await client.get("/api/v1/audit"), 403, "AUTH_PASSWORD_CHANGE_REQUIRED");

    expectStatus(await client.changePassword(acct.temporaryPassword, NEW_PASSWORD), 204);
    expect((await client.get("/api/v1/audit")).status).toBe(200);
    expectStatus(await client.logout(), 204);
    expectCode(await client.login(acct.loginId, acct.temporaryPassword), 401, "AUTH_FAILED");
    const again = await client.login(acct.loginId, NEW_PASSWORD);
    expect(again.status).toBe(201);
    expect((again.json as { mustChangePassword: boolean }).mustChangePassword).toBe(false);
  });
});

describe("logout", () => {
  it("revokes the session token: the old cookie no longer works", async () => {
    const acct = pool.logout;
    const client = clientOf(acct);
    await firstLogin(client, acct.loginId, acct.temporaryPassword);
    const token = client.session.token;
    expect(token).toBeDefined();
    expect((await client.get("/api/v1/session")).status).toBe(200);
    expectStatus(await client.logout(), 204);
    client.session.token = token;
    expectCode(await client.get("/api/v1/session"), 401, "AUTH_REQUIRED");
    expectCode(await client.get("/api/v1/devices"), 401, "AUTH_REQUIRED");
  });
});

// The clock only moves forward from here on.
describe("time-outs and lock-out (server clock moved by the test)", () => {
  it("locks an ID after 5 failures (423 even with the right password) for 15 minutes", async () => {
    const acct = pool.lock;
    const client = clientOf(acct);
    for (let i = 1; i <= 4; i++) {
      expectCode(await client.login(acct.loginId, `Wrong-pass-${i}!`), 401, "AUTH_FAILED");
    }
    expectCode(await client.login(acct.loginId, "Wrong-pass-5!"), 423, "AUTH_LOCKED");
    expectCode(await client.login(acct.loginId, acct.temporaryPassword), 423, "AUTH_LOCKED");
    // The clock also runs in real time: a minute's margin either side of the 15 minutes.
    node.clock.advance(14 * MINUTE);
    expectCode(await client.login(acct.loginId, acct.temporaryPassword), 423, "AUTH_LOCKED");
    node.clock.advance(MINUTE + 1_000);
    expect((await client.login(acct.loginId, acct.temporaryPassword)).status).toBe(201);
    // The count starts again from zero after the lock.
    expectCode(await client.login(acct.loginId, "Wrong-pass-6!"), 401, "AUTH_FAILED");
  });

  it("ends a session idle for more than 15 minutes (401 AUTH_SESSION_EXPIRED)", async () => {
    const acct = pool.idle;
    const client = clientOf(acct);
    await firstLogin(client, acct.loginId, acct.temporaryPassword);
    // Activity keeps it alive.
    for (let i = 0; i < 3; i++) {
      node.clock.advance(14 * MINUTE);
      expect((await client.get("/api/v1/session")).status).toBe(200);
    }
    node.clock.advance(15 * MINUTE + 1_000);
    expectCode(await client.get("/api/v1/session"), 401, "AUTH_SESSION_EXPIRED");
    // It was deleted, not just refused once.
    expectCode(await client.get("/api/v1/session"), 401, "AUTH_REQUIRED");
  });

  it("ends an active session after 8 hours (401 AUTH_SESSION_EXPIRED)", async () => {
    const acct = pool.absolute;
    const client = clientOf(acct);
    await firstLogin(client, acct.loginId, acct.temporaryPassword);
    let elapsed = 0;
    while (elapsed + 14 * MINUTE < 8 * 60 * MINUTE) {
      node.clock.advance(14 * MINUTE);
      elapsed += 14 * MINUTE;
      expect((await client.get("/api/v1/session")).status).toBe(200);
    }
    node.clock.advance(8 * 60 * MINUTE - elapsed);
    expectCode(await client.get("/api/v1/session"), 401, "AUTH_SESSION_EXPIRED");
  });
});

describe("ledger", () => {
  it("passes fsck and holds logins, failures, the lock-out, time-outs, logouts, devices and office actions", async () => {
    // Checkpoints follow appends on a cadence: once one covers the newest entry, nothing is unsigned.
    await node.ctx.ledger.checkpointCovering(node.ctx.ledger.size() - 1);
    expect(fsckDataDir(node)).toMatchObject({ ok: true, unsignedEntries: 0 });
    const records = ledgerRecords(node.ctx);
    const has = (pred: (r: (typeof records)[number]) => boolean): void => {
      expect(records.some(pred)).toBe(true);
    };
    has((r) => r.type === "login" && r.outcome === "success" && r.actor.id === pool.lock.loginId);
    has((r) => r.type === "login" && r.outcome === "serious-failure" && r.actor.id === pool.lock.loginId);
    has((r) => r.type === "login" && r.outcomeDesc === "locked after 5 failures");
    has((r) => r.type === "logout" && r.reason === "timeout" && r.outcomeDesc === "idle limit");
    has((r) => r.type === "logout" && r.reason === "timeout" && r.outcomeDesc === "absolute limit");
    has((r) => r.type === "logout" && r.reason === "user" && r.actor.id === pool.logout.loginId);
    has((r) => r.type === "admin" && r.action === "device.register" && r.actor.id === pool.devices.loginId);
    has((r) => r.type === "admin" && r.action === "password.change" && r.actor.id === pool.forced.loginId);
    // Office actions carry the device key and signature of the request.
    has(
      (r) =>
        r.type === "admin" &&
        r.action === "institution.create" &&
        r.actor.id === officeLogin.loginId &&
        r.actor.device?.keyId === officeKey.deviceId,
    );
  });
});
