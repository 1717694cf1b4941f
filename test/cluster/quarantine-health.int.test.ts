/**
 * A quarantined node stops serving users (server/quarantine-gate.ts, server/user-listener.ts): it stops
 * accepting connections (a new one is refused, which haproxy retries on another node), closes the
 * keep-alive connections idle after an answer and those that never sent a request (a browser's
 * preconnect), refuses a request on a connection still open with the coded
 * 503 and `Connection: close` (`/api/v1/health` too), finishes a request already in progress
 * and closes its connection after it, and listens again on the same port when it rejoins. The real
 * server over TLS 1.3 with a demo account's client certificate, its NodeHealth changed while it runs.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import { connect, type TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeHealth } from "../../src/cluster/integrity/node-health.js";
import { waitFor } from "../../src/cluster/processes/wait.js";
import { UNUSED_GRACE_MS } from "../../src/server/quarantine-gate.js";
import { startServer, type RunningServer } from "../../src/server/serve.js";
import { createDemo } from "../../src/service/demo.js";
import { EXAMPLE_DIR } from "../support/test-node.js";

const HOST = "127.0.0.1";
let dir: string;
let server: RunningServer | undefined;
let health: NodeHealth;
let tlsOptions: { ca: string; cert: string; key: string };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-quarantine-"));
  const demo = await createDemo(dir, {
    port: 0,
    host: HOST,
    exampleMapping: join(EXAMPLE_DIR, "mapping.yaml"),
  });
  health = new NodeHealth({ now: () => new Date() });
  server = await startServer(dir, { port: 0, host: HOST, env: {}, nodeHealth: health });
  const office = demo.accounts.find((a) => a.role === "office");
  if (office === undefined) throw new Error("no office account");
  tlsOptions = {
    ca: readFileSync(demo.caCertificate, "utf8"),
    cert: readFileSync(office.certificate, "utf8"),
    key: readFileSync(office.key, "utf8"),
  };
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

function get(
  path: string,
  agent: https.Agent | false = false,
): Promise<{ status: number; body: string; headers: Record<string, unknown>; socket: unknown }> {
  return new Promise((resolve, reject) => {
    let socket: unknown;
    const req = https.request(
      { host: HOST, port: server?.port, path, method: "GET", ...tlsOptions, agent, timeout: 10_000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body, headers: res.headers, socket });
        });
      },
    );
    req.on("socket", (s) => (socket = s));
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** A TLS connection to the server, handshake done, no request sent yet. */
async function openConnection(): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port: server?.port ?? 0, servername: "localhost", ...tlsOptions });
    socket.once("secureConnect", () => {
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/** Writes `request` on the connection and reads until the server closes it (bounded). */
async function exchange(socket: TLSSocket, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const timer = setTimeout(() => socket.destroy(new Error("no close within 10 s")), 10_000);
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (got += d));
    socket.once("error", reject);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.write(request);
  });
}

const closed = (socket: { destroyed: boolean }) => () => Promise.resolve(socket.destroyed ? true : undefined);

describe("quarantine: the node stops accepting and hands its users' connections back", () => {
  it("healthy: /health 200 and the API answers", async () => {
    expect((await get("/api/v1/health")).status).toBe(200);
    expect((await get("/api/v1/openapi.json")).status).toBe(200);
  });

  it("quarantined: new connections refused, idle ones closed, open ones answered 503 + close; the same port again on rejoin", async () => {
    const port = server?.port;
    // A keep-alive connection that answered once and is idle now.
    const keep = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await get("/api/v1/openapi.json", keep);
    expect(first.status).toBe(200);
    const idle = first.socket as TLSSocket;
    expect(idle.destroyed).toBe(false);
    // A connection whose handshake is done and that never sends a request (a browser's preconnect).
    const preconnect = await openConnection();
    // A request whose headers arrived (so it passed the door) and whose body is still coming.
    const slow = await openConnection();
    const slowBody = JSON.stringify({ loginId: "nobody-here", password: "x".repeat(12) });
    slow.write(
      `POST /api/v1/session HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(slowBody)}\r\n\r\n`,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(UNUSED_GRACE_MS).toBeLessThan(300);
    // Connections whose handshake is done just now and whose first request comes after the quarantine.
    const fresh = await openConnection();
    const fresh2 = await openConnection();

    health.quarantine([{ kind: "entry", code: "LEDGER_LEAF_HASH_MISMATCH", index: 3 }]);
    // Their requests, sent at once (within the grace an unused connection is given).
    const healthWrite = exchange(fresh, "GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const apiWrite = exchange(fresh2, "GET /api/v1/openapi.json HTTP/1.1\r\nHost: localhost\r\n\r\n");

    // No new connection: refused by the kernel (haproxy's connect fails and it tries another node).
    await expect(get("/api/v1/health")).rejects.toMatchObject({ code: "ECONNREFUSED" });
    // The idle keep-alive connection is closed by the server.
    await waitFor(closed(idle), { what: "idle keep-alive connection closed", timeoutMs: 10_000 });
    keep.destroy();
    // So is the connection that never sent a request, past its grace: the browser opens another.
    await waitFor(closed(preconnect), { what: "unused connection closed", timeoutMs: 10_000 });
    // The open connections: coded refusals with Connection: close and Retry-After, then closed.
    const h = await healthWrite;
    expect(h).toMatch(/^HTTP\/1\.1 503 /);
    expect(h.toLowerCase()).toContain("connection: close");
    expect(h.toLowerCase()).toContain("retry-after: 1");
    expect(h).toContain("CLUSTER_QUARANTINED");
    expect(h).toContain("urn:kenshin-exchange:outcome:since");
    // Findings (positions and codes) are not in the user-facing answer.
    expect(h).not.toContain("LEDGER_LEAF_HASH_MISMATCH");
    const api = await apiWrite;
    expect(api).toMatch(/^HTTP\/1\.1 503 /);
    expect(api).toContain("CLUSTER_QUARANTINED");
    expect(api.toLowerCase()).toContain("connection: close");
    // The request already past the door is served (its own answer, not the quarantine), then closed.
    const answered = await exchange(slow, slowBody);
    expect(answered).toMatch(/^HTTP\/1\.1 \d{3} /);
    expect(answered).not.toContain("CLUSTER_QUARANTINED");
    expect(answered.toLowerCase()).toContain("connection: close");

    health.beginRepair();
    await expect(get("/api/v1/health")).rejects.toMatchObject({ code: "ECONNREFUSED" });
    health.rejoin();
    // Listening again on the same port.
    const back = await waitFor(() => get("/api/v1/health").catch(() => undefined), {
      what: "listening again",
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    expect(server?.port).toBe(port);
    expect(back.status).toBe(200);
    expect((await get("/api/v1/openapi.json")).status).toBe(200);
  });

  it("a quarantine that ends while the listener reopens, and a second one, leave it closed and then open", async () => {
    health.quarantine([{ kind: "entry", code: "LEDGER_LEAF_HASH_MISMATCH", index: 4 }]);
    health.rejoin();
    health.quarantine([{ kind: "entry", code: "LEDGER_LEAF_HASH_MISMATCH", index: 5 }]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await expect(get("/api/v1/health")).rejects.toMatchObject({ code: "ECONNREFUSED" });
    health.rejoin();
    const back = await waitFor(() => get("/api/v1/health").catch(() => undefined), {
      what: "listening again",
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    expect(back.status).toBe(200);
  });
});
