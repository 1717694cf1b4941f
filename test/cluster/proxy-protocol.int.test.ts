/**
 * The users' own addresses through real haproxy 2.6 (issue 10): haproxy opens every connection to the
 * node with a PROXY protocol v2 header (`send-proxy-v2`, `check-send-proxy`, from 127.0.0.1 as
 * `kenshin cluster init` writes it), and the node — trusting 127.0.0.1 for headers (`proxy.trusted`) —
 * counts, records and audits each user by the address the header names.
 *
 * The users are real TLS clients with the demo certificates, bound to their own loopback source
 * addresses (127.0.0.2, 127.0.0.3, ...: all of 127/8 is local on Linux), so haproxy sees each one apart.
 * What must hold:
 * - the login entries' AuditEvent agent.network is each user's address, not haproxy's;
 * - the per-address limit (set to 4 here) counts users apart: one address at its limit is refused,
 *   another still gets in through the same haproxy;
 * - a PROXY header sent straight to the node is honoured from the trusted address only: from another
 *   one its forged address is never recorded (the header fails TLS as garbage);
 * - from the trusted address, TLS without a header is served under that address (a local operator), a
 *   v1 or malformed header is closed, and 3 bytes of one and then nothing are closed within the header
 *   bound (1 s here).
 */
import { mkdirSync } from "node:fs";
import https from "node:https";
import { connect as tcpConnect, type Socket } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHaproxy, writeCertKeyFile, type RunningHaproxy } from "../../src/cluster/processes/haproxy.js";
import { auditEventOf } from "../../src/fhir/audit-event.js";
import { PROXY_V2_SIGNATURE } from "../../src/server/proxy-protocol.js";
import { entryRef, ledgerSize } from "../../src/service/audit/audit-entries.js";
import { HOST, startTestNode, type TestNode } from "../support/test-node.js";

const PER_ADDRESS = 4;
let node: TestNode;
let lb: RunningHaproxy;

beforeAll(async () => {
  node = await startTestNode({
    config: {
      proxy: { trusted: [HOST], headerSeconds: 1 },
      connections: { perAddress: PER_ADDRESS },
    },
  });
  const lbDir = join(node.dir, "haproxy-test");
  mkdirSync(lbDir);
  const office = node.account("office");
  writeCertKeyFile(join(lbDir, "check.pem"), { certPem: office.certPem, keyPem: office.keyPem });
  lb = await startHaproxy({
    dir: lbDir,
    backends: [{ name: "node1", port: node.server.port }],
    check: {
      kind: "https",
      path: "/api/v1/health",
      clientCertKeyFile: join(lbDir, "check.pem"),
      caFile: node.demo.caCertificate,
      serverName: "localhost",
    },
    checkIntervalMs: 500,
    balance: "source",
    sendProxyFrom: HOST,
  });
  // UP means haproxy's HTTPS health check, sent with a LOCAL PROXY header, passed on the node.
  await lb.waitForBackend("node1", "UP", 30_000);
}, 90_000);

afterAll(async () => {
  await lb.stop();
  await node.close();
}, 30_000);

/** One request from `from` to `port` (haproxy's or the node's), on a connection of its own. */
function request(
  o: { from: string; port: number; role: "sender" | "receiver" | "office"; method: string; path: string },
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const account = node.account(o.role);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: HOST,
        port: o.port,
        localAddress: o.from,
        method: o.method,
        path: o.path,
        ca: node.caPem,
        cert: account.certPem,
        key: account.keyPem,
        servername: "localhost",
        agent: false,
        timeout: 15_000,
        headers: body === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, text });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

function login(from: string, role: "sender" | "receiver", port = lb.port) {
  const account = node.account(role);
  return request(
    { from, port, role, method: "POST", path: "/api/v1/session" },
    { loginId: account.loginId, password: account.password },
  );
}

/** Every AuditEvent's user agent: login ID and network address, in ledger order. */
function auditedAddresses(): { loginId: string | undefined; address: string | undefined }[] {
  const out: { loginId: string | undefined; address: string | undefined }[] = [];
  for (let i = 0; i < ledgerSize(node.ctx); i++) {
    const agent = auditEventOf(entryRef(node.ctx, i)).agent[0];
    out.push({ loginId: agent?.who.identifier?.value, address: agent?.network?.address });
  }
  return out;
}

/** A TLS connection through haproxy from `from`, held open; "closed" if it never got through. */
function holdConnection(from: string): Promise<TLSSocket | "closed"> {
  const account = node.account("sender");
  return new Promise((resolve) => {
    // The TCP connection is made first: tls.connect's options have no source address.
    const socket = tlsConnect({
      socket: tcpConnect({ host: HOST, port: lb.port, localAddress: from }),
      ca: node.caPem,
      cert: account.certPem,
      key: account.keyPem,
      servername: "localhost",
    });
    const timer = setTimeout(() => socket.destroy(), 15_000);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      // The node accepted the connection; a refused one is closed before or right after the handshake
      // (TLS 1.3: the client may finish first). Only one still open after a short while counts.
      setTimeout(() => {
        resolve(socket.destroyed || socket.readyState !== "open" ? "closed" : socket);
      }, 300);
    });
    socket.once("error", () => undefined);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve("closed");
    });
  });
}

/** Waits (bounded) until `socket` is closed by the other end; false if it is still open after `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) {
      resolve(true);
      return;
    }
    const timer = setTimeout(() => {
      resolve(false);
    }, ms);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * How a connection the node refuses ends for the client: reset, or closed before the TLS handshake
 * finished (not, say, a refused connect).
 */
const CLOSED_BY_NODE = { code: expect.stringMatching(/^(ECONNRESET|EPIPE)$/) as unknown };

/** A PROXY v2 header (TCP over IPv4) naming `source` as the user, as haproxy writes one. */
function tcp4Header(source: string): Buffer {
  const body = Buffer.alloc(16);
  body.writeUInt8(0x21, 0); // version 2, PROXY
  body.writeUInt8(0x11, 1); // IPv4, stream
  body.writeUInt16BE(12, 2);
  Buffer.from(source.split(".").map(Number)).copy(body, 4);
  Buffer.from([127, 0, 0, 1]).copy(body, 8);
  body.writeUInt16BE(5000, 12);
  body.writeUInt16BE(node.server.port, 14);
  return Buffer.concat([PROXY_V2_SIGNATURE, body]);
}

/** A login straight to the node from `from`, its connection opened with `prefix` before TLS. */
function loginOver(from: string, prefix: Buffer): Promise<{ status: number; text: string }> {
  const account = node.account("sender");
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        method: "POST",
        path: "/api/v1/session",
        headers: { "content-type": "application/json", host: "localhost" },
        timeout: 15_000,
        // No agent: each login on the connection made here (Node uses createConnection only then).
        createConnection: () => {
          const raw = tcpConnect({ host: HOST, port: node.server.port, localAddress: from });
          raw.write(prefix);
          return tlsConnect({
            socket: raw,
            ca: node.caPem,
            cert: account.certPem,
            key: account.keyPem,
            servername: "localhost",
          });
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, text });
        });
      },
    );
    req.on("timeout", () => {
      req.destroy(new Error("request timed out"));
    });
    req.on("error", reject);
    req.end(JSON.stringify({ loginId: account.loginId, password: account.password }));
  });
}

describe("a node behind haproxy with PROXY protocol v2", () => {
  it("records each user's own address in the login entries' AuditEvent agent.network", async () => {
    expect((await login("127.0.0.2", "sender")).status).toBe(201);
    expect((await login("127.0.0.3", "receiver")).status).toBe(201);
    const logins = auditedAddresses().filter((a) => a.address !== undefined);
    const sender = node.account("sender").loginId;
    const receiver = node.account("receiver").loginId;
    expect(logins.filter((a) => a.loginId === sender).map((a) => a.address)).toContain("127.0.0.2");
    expect(logins.filter((a) => a.loginId === receiver).map((a) => a.address)).toContain("127.0.0.3");
    expect(logins.map((a) => a.address)).not.toContain(HOST);
  }, 60_000);

  it("counts the per-address limit per user: one address at its limit, another still gets in", async () => {
    const held: TLSSocket[] = [];
    try {
      for (let i = 0; i < PER_ADDRESS; i++) {
        const got = await holdConnection("127.0.0.4");
        expect(got, `connection ${i + 1} of ${PER_ADDRESS}`).not.toBe("closed");
        if (got !== "closed") held.push(got);
      }
      // One more from the same user: over the limit, closed at accept.
      expect(await holdConnection("127.0.0.4")).toBe("closed");
      // Another user through the same haproxy is not affected.
      const other = await request({
        from: "127.0.0.5",
        port: lb.port,
        role: "sender",
        method: "GET",
        path: "/api/v1/health",
      });
      expect(other.status).toBe(200);
    } finally {
      for (const s of held) s.destroy();
    }
  }, 60_000);

  it("honours a PROXY header sent straight to the node only from the trusted address", async () => {
    // From 127.0.0.6 (not trusted): the header is the first bytes of the TLS stream, refused as garbage.
    await expect(loginOver("127.0.0.6", tcp4Header("127.0.0.9"))).rejects.toMatchObject(CLOSED_BY_NODE);
    // The same kind of header from 127.0.0.1 (trusted, as haproxy is): its address is the user's.
    expect((await loginOver(HOST, tcp4Header("127.0.0.7"))).status).toBe(201);
    // Straight from the untrusted address without a header: served as before, under its own address.
    expect((await login("127.0.0.6", "sender", node.server.port)).status).toBe(201);
    const addresses = auditedAddresses().map((a) => a.address);
    expect(addresses).toContain("127.0.0.7");
    expect(addresses).toContain("127.0.0.6");
    expect(addresses).not.toContain("127.0.0.9");
  }, 60_000);

  it("from the trusted address: TLS without a header is served as its own; a bad, v1 or stalled header is closed", async () => {
    // An operator on haproxy's machine (on a one-machine cluster: every local client) reaches the node.
    const before = auditedAddresses().length;
    expect((await login(HOST, "sender", node.server.port)).status).toBe(201);
    expect(
      auditedAddresses()
        .slice(before)
        .map((a) => a.address),
    ).toContain(HOST);
    // A version 1 text header, and a v2 header with a wrong version: closed, never served.
    await expect(
      loginOver(HOST, Buffer.from("PROXY TCP4 127.0.0.8 127.0.0.1 5000 8443\r\n")),
    ).rejects.toMatchObject(CLOSED_BY_NODE);
    const v3 = tcp4Header("127.0.0.8");
    v3[12] = 0x31;
    await expect(loginOver(HOST, v3)).rejects.toMatchObject(CLOSED_BY_NODE);
    expect(auditedAddresses().map((a) => a.address)).not.toContain("127.0.0.8");
    // 3 bytes of the signature, then silence: closed once the header bound (1 s) has passed.
    const slow = tcpConnect({ host: HOST, port: node.server.port, localAddress: HOST });
    await new Promise<void>((resolve, reject) => {
      slow.once("connect", resolve);
      slow.once("error", reject);
    });
    slow.on("error", () => undefined);
    slow.write(PROXY_V2_SIGNATURE.subarray(0, 3));
    expect(await closedWithin(slow, 10_000)).toBe(true);
    slow.destroy();
  }, 60_000);
});
