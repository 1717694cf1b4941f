/**
 * Attack 2 (issue 15): a keep-alive connection opened before a revocation. TLS checks the CRL only at
 * the handshake, so before the fix a connection made before `kenshin admin cert revoke` stayed
 * authenticated (76 s in the attack) and its state changes were accepted. Now revoking a certificate
 * or disabling an institution ends its sessions, every further request on an open connection is
 * refused (checked per request against the database), and the server closes those connections when it
 * reloads the CRL. Real node, real TLS, the revocation made by a second ServiceContext on the same data
 * directory, as the CLI does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ApiClient } from "../../src/client/api-client.js";
import { signRequest } from "../../src/client/request-signing.js";
import { revokeCertificates } from "../../src/service/identity/certificates.js";
import { systemActor } from "../../src/service/context.js";
import { closeNode, openNode } from "../../src/service/node.js";
import {
  createReceiver,
  firstLogin,
  newDeviceKey,
  startTestNode,
  type IssuedTestAccount,
  type TestNode,
} from "../support/test-node.js";
import { cookieOf, openKeepAlive, type KeepAliveConnection } from "./support/keep-alive.js";

let node: TestNode;
let office: ApiClient;

beforeAll(async () => {
  node = await startTestNode({ crlPollMs: 100 });
  office = node.client("office");
  const a = node.account("office");
  await firstLogin(office, a.loginId, a.password);
});

afterAll(async () => {
  await node.close();
});

/** A receiver logged in on one keep-alive connection, its session checked on that connection. */
async function loggedInConnection(
  account: IssuedTestAccount,
): Promise<{ conn: KeepAliveConnection; cookie: string; csrf: string }> {
  const conn = await openKeepAlive({
    port: node.server.port,
    caPem: node.caPem,
    certPem: account.certPem,
    keyPem: account.keyPem,
  });
  const login = await conn.request(
    "POST",
    "/api/v1/session",
    { "content-type": "application/json" },
    JSON.stringify({ loginId: account.loginId, password: account.temporaryPassword }),
  );
  expect(login.status).toBe(201);
  const cookie = cookieOf(login);
  const csrf = (JSON.parse(login.body) as { csrfToken: string }).csrfToken;
  expect((await conn.request("GET", "/api/v1/session", { cookie })).status).toBe(200);
  return { conn, cookie, csrf };
}

/** The next request on the connection: its status, or "closed" when the server closed it. */
async function next(
  conn: KeepAliveConnection,
  send: () => Promise<{ status: number }>,
): Promise<number | "closed"> {
  if (conn.closed()) return "closed";
  try {
    return (await send()).status;
  } catch {
    return "closed";
  }
}

/** A device registration (a state change) signed by a fresh key, sent on the connection. */
async function registerDevice(conn: KeepAliveConnection, cookie: string, csrf: string) {
  const key = await newDeviceKey();
  const body = JSON.stringify({
    publicKey: key.publicJwk,
    label: "after revocation",
    confirmAdditional: true,
  });
  const signature = await signRequest({
    method: "POST",
    path: "/api/v1/devices",
    body: Buffer.from(body),
    privateKey: key.privateKey,
    deviceId: key.deviceId,
    now: node.clock.ms(),
  });
  return conn.request(
    "POST",
    "/api/v1/devices",
    { cookie, "x-csrf-token": csrf, "x-kenshin-device": signature, "content-type": "application/json" },
    body,
  );
}

function sessionsOf(loginId: string): number {
  return (
    node.ctx.db
      .prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM sessions WHERE login_id = ?")
      .get(loginId)?.n ?? -1
  );
}

function devicesOf(loginId: string): number {
  return (
    node.ctx.db
      .prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM devices WHERE login_id = ?")
      .get(loginId)?.n ?? -1
  );
}

describe("attack: keep a connection open across a revocation", () => {
  it("after `admin cert revoke` in another process: the session ends, the open connection's next read and state change are refused, and the server closes it", async () => {
    const account = await createReceiver(office, "失効される受信機関");
    const { conn, cookie, csrf } = await loggedInConnection(account);
    const serial = node.ctx.db
      .prepare<[string], { serial: string }>("SELECT serial FROM certificates WHERE login_id = ?")
      .get(account.loginId)?.serial;
    if (serial === undefined) throw new Error("no certificate");
    const admin = await openNode(node.dir, { env: {} });
    try {
      await revokeCertificates(admin, systemActor("kenshin-admin"), [serial], "key lost");
    } finally {
      closeNode(admin);
    }
    expect(sessionsOf(account.loginId)).toBe(0);
    const read = await next(conn, () => conn.request("GET", "/api/v1/session", { cookie }));
    const change = await next(conn, () => registerDevice(conn, cookie, csrf));
    expect(read === "closed" || read === 403).toBe(true);
    expect(change === "closed" || change === 403).toBe(true);
    expect(devicesOf(account.loginId)).toBe(0);
    // The server closes it itself (the test bounds the wait; the CRL is polled every 100 ms here).
    expect(await conn.closedWithin(5_000)).toBe(true);
  });

  it("after the office disables the institution: the open connection is refused at once and closed", async () => {
    const account = await createReceiver(office, "利用不可になる受信機関");
    const { conn, cookie, csrf } = await loggedInConnection(account);
    expect((await office.post(`/api/v1/admin/institutions/${account.institutionId}/disable`)).status).toBe(
      200,
    );
    expect(sessionsOf(account.loginId)).toBe(0);
    const read = await next(conn, () => conn.request("GET", "/api/v1/health"));
    const change = await next(conn, () => registerDevice(conn, cookie, csrf));
    expect(read === "closed" || read === 403).toBe(true);
    expect(change === "closed" || change === 403).toBe(true);
    expect(devicesOf(account.loginId)).toBe(0);
    expect(await conn.closedWithin(5_000)).toBe(true);
  });
});
