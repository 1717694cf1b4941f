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
async function whoAnswers(): Promise<{ backend: string; peer: { loginId: string } | null }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: lb.host,
        port: lb.port,
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
  const options = tlsServerOptions({
    caCertPem: ca.certPem,
    certPem: server.certPem,
    keyPem: server.keyPem,
    crlPem,
  });
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
