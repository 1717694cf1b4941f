import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "reflect-metadata";
import { startHaproxy, writeCertKeyFile, type RunningHaproxy } from "../../src/cluster/processes/haproxy.js";
import {
  createCertificateAuthority,
  createCrl,
  issueClientCertificate,
  issueServerCertificate,
  peerIdentity,
  tlsServerOptions,
  type IssuedCertificate,
} from "../../src/crypto/pki/index.js";

/** A backend that requires a client certificate, like a kenshin node, and says who it is. */
interface Backend {
  readonly name: string;
  readonly server: https.Server;
  healthy: boolean;
  readonly port: number;
}

let dir: string;
let caPem: string;
let user: IssuedCertificate;
let lb: RunningHaproxy;
const backends: Backend[] = [];
let tlsOptions: https.ServerOptions;

async function startBackend(name: string, options: https.ServerOptions): Promise<Backend> {
  const backend = { name, healthy: true } as {
    name: string;
    healthy: boolean;
    server: https.Server;
    port: number;
  };
  backend.server = https.createServer(options, (req, res) => {
    if (req.url === "/health") {
      res.writeHead(backend.healthy ? 200 : 503).end();
      return;
    }
    const peer = req.socket instanceof TLSSocket ? peerIdentity(req.socket.getPeerCertificate()) : undefined;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ backend: name, peer }));
  });
  await new Promise<void>((resolve) => backend.server.listen(0, "127.0.0.1", resolve));
  backend.port = (backend.server.address() as AddressInfo).port;
  return backend;
}

/** One request through the load balancer with the user's client certificate (a new connection each time). */
async function whoAnswers(
  through: RunningHaproxy = lb,
): Promise<{ backend: string; peer: { loginId: string } | null }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: through.host,
        port: through.port,
        path: "/whoami",
        ca: caPem,
        cert: user.certPem,
        key: user.keyPem,
        servername: "localhost",
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => {
          resolve(JSON.parse(body) as { backend: string; peer: { loginId: string } | null });
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kenshin-haproxy-"));
  const now = new Date();
  const ca = await createCertificateAuthority({ commonName: "kenshin test CA", now, validityDays: 30 });
  caPem = ca.certPem;
  const server = await issueServerCertificate(ca, {
    hostNames: ["localhost", "127.0.0.1"],
    now,
    validityDays: 30,
  });
  const client = { institutionName: "テスト健診センター", now, validityDays: 30 };
  user = await issueClientCertificate(ca, { loginId: "clinic-user", institutionId: "1310000001", ...client });
  const checker = await issueClientCertificate(ca, {
    loginId: "haproxy-check",
    institutionId: "1310000099",
    ...client,
  });
  const crlPem = await createCrl(ca, { revoked: [], now, nextUpdateDays: 1 });
  const options = (tlsOptions = tlsServerOptions({
    caCertPem: ca.certPem,
    certPem: server.certPem,
    keyPem: server.keyPem,
    crlPem,
  }));
  backends.push(await startBackend("node1", options), await startBackend("node2", options));
  writeFileSync(join(dir, "ca.pem"), ca.certPem);
  writeCertKeyFile(join(dir, "check.pem"), checker);
  lb = await startHaproxy({
    dir,
    backends: backends.map((b) => ({ name: b.name, port: b.port })),
    check: {
      kind: "https",
      path: "/health",
      clientCertKeyFile: join(dir, "check.pem"),
      caFile: join(dir, "ca.pem"),
      serverName: "localhost",
    },
    checkIntervalMs: 200,
    fall: 2,
    rise: 2,
  });
  await lb.waitForBackend("node1", "UP");
  await lb.waitForBackend("node2", "UP");
});

afterAll(async () => {
  await lb.stop();
  await Promise.all(backends.map((b) => new Promise((resolve) => b.server.close(resolve))));
  rmSync(dir, { recursive: true, force: true });
});

describe("haproxy harness (real haproxy 2.6, TCP pass-through, HTTPS health checks)", () => {
  it("passes TLS through: the backend itself sees the user's client certificate", async () => {
    const answer = await whoAnswers();
    expect(["node1", "node2"]).toContain(answer.backend);
    expect(answer.peer?.loginId).toBe("clinic-user");
  });

  it("spreads connections over the healthy backends", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) seen.add((await whoAnswers()).backend);
    expect([...seen].sort()).toEqual(["node1", "node2"]);
  });

  it("takes a backend whose /health answers 503 out of the pool, and back once healthy", async () => {
    const node1 = backends[0];
    if (node1 === undefined) throw new Error("no backend");
    node1.healthy = false;
    await lb.waitForBackend("node1", "DOWN");
    for (let i = 0; i < 6; i++) expect((await whoAnswers()).backend).toBe("node2");
    node1.healthy = true;
    await lb.waitForBackend("node1", "UP");
  });

  it("takes a backend that stops listening out of the pool", async () => {
    const node2 = backends[1];
    if (node2 === undefined) throw new Error("no backend");
    node2.server.closeAllConnections();
    await new Promise((resolve) => node2.server.close(resolve));
    await lb.waitForBackend("node2", "DOWN");
    for (let i = 0; i < 4; i++) expect((await whoAnswers()).backend).toBe("node1");
  });
});

describe("a backend that stops listening before haproxy's check notices (a kenshin node's quarantine)", () => {
  it("sends every connection to another backend at once: no client sees a failure", async () => {
    // Its own haproxy, as the cluster configures it (one user address stays on one node), with checks so
    // rare that haproxy still counts the closed backend UP throughout: only the redispatch can help.
    const own = mkdtempSync(join(tmpdir(), "kenshin-haproxy-redispatch-"));
    const pair = [await startBackend("a", tlsOptions), await startBackend("b", tlsOptions)];
    writeFileSync(join(own, "ca.pem"), caPem);
    const slow = await startHaproxy({
      dir: own,
      backends: pair.map((b) => ({ name: b.name, port: b.port })),
      check: { kind: "tcp" },
      checkIntervalMs: 600_000,
      balance: "source",
    });
    try {
      await slow.waitForBackend("a", "UP");
      await slow.waitForBackend("b", "UP");
      const chosen = (await whoAnswers(slow)).backend;
      const victim = pair.find((b) => b.name === chosen);
      if (victim === undefined) throw new Error("no backend answered");
      await new Promise((resolve) => victim.server.close(resolve));
      const before = (await slow.counters())[victim.name];
      const answers: string[] = [];
      for (let i = 0; i < 20; i++) answers.push((await whoAnswers(slow)).backend);
      expect(new Set(answers)).toEqual(new Set(pair.filter((b) => b !== victim).map((b) => b.name)));
      // haproxy never took it out: the redispatch alone carried the users, each refused connect sent on
      // to the other backend at its first retry (none retried on the refusing one first).
      expect((await slow.backendStatus())[victim.name]).toBe("UP");
      const after = (await slow.counters())[victim.name];
      const redispatched = (after?.wredis ?? 0) - (before?.wredis ?? 0);
      expect(redispatched).toBe(answers.length);
      // haproxy counts a retry on the same server in wretr: none (the old `option redispatch` waited a
      // second and tried the refusing server again before redispatching).
      expect((after?.wretr ?? 0) - (before?.wretr ?? 0)).toBe(0);
    } finally {
      await slow.stop();
      for (const b of pair) b.server.close();
      rmSync(own, { recursive: true, force: true });
    }
  });
});
