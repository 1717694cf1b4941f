/**
 * Attack 6 (issue 15): idle and slow connections. Before the fix a raw TCP connection without a
 * certificate was held for 120 s (Node's TLS handshake default), half-sent headers for over 130 s, and
 * ~1,000 idle sockets from one address blocked every other client. Now the handshake, the headers, the
 * whole request and an idle keep-alive connection are bounded, and one address may hold only so many
 * connections. Real node on 127.0.0.1; the "other address" is 127.0.0.2 (Linux routes all of
 * 127.0.0.0/8 to loopback). Every wait is bounded, far below the old hold times.
 */
import net from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HOST, reach, startTestNode, type TestNode } from "../support/test-node.js";

/** Resolves true once the peer closed the socket, false if it is still open after `ms`. */
function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
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

function rawTcp(port: number, localAddress = HOST): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port, localAddress }, () => {
      resolve(socket);
    });
    socket.on("error", () => undefined);
    socket.once("error", reject);
  });
}

function tlsConnection(node: TestNode, localAddress = HOST): Promise<tls.TLSSocket> {
  const a = node.account("receiver");
  return new Promise((resolve, reject) => {
    const tcp = net.connect({ host: HOST, port: node.server.port, localAddress });
    const socket = tls.connect({
      socket: tcp,
      ca: node.caPem,
      cert: a.certPem,
      key: a.keyPem,
      minVersion: "TLSv1.3",
    });
    socket.on("error", () => undefined);
    socket.once("secureConnect", () => {
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

/** Reads one complete HTTP answer head from a socket (bounded). */
function statusOf(socket: tls.TLSSocket, ms: number): Promise<number> {
  return new Promise((resolve) => {
    let text = "";
    const timer = setTimeout(() => {
      resolve(0);
    }, ms);
    socket.on("data", (c: Buffer) => {
      text += c.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m && text.includes("\r\n\r\n")) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
}

describe("attack: hold connections open slowly (bounds of 1–2 s)", () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode({
      config: {
        connections: {
          handshakeSeconds: 1,
          headerSeconds: 1,
          requestSeconds: 2,
          idleSeconds: 1,
          perAddress: 1000,
        },
      },
    });
  });
  afterAll(async () => {
    await node.close();
  });

  it("closes a raw TCP connection that never starts the TLS handshake", async () => {
    const socket = await rawTcp(node.server.port);
    expect(await closedWithin(socket, 8_000)).toBe(true);
  });

  it("closes a TLS connection whose request headers never end", async () => {
    const socket = await tlsConnection(node);
    socket.write("GET /api/v1/health HTTP/1.1\r\nhost: localhost\r\nx-slow: ");
    expect(await closedWithin(socket, 8_000)).toBe(true);
  });

  it("closes a TLS connection whose request body never ends", async () => {
    const socket = await tlsConnection(node);
    socket.write(
      'POST /api/v1/session HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"loginId":',
    );
    // Trickle a byte now and then, as a slowloris body does, so only the request bound can end it.
    const trickle = setInterval(() => socket.write(" "), 300);
    try {
      expect(await closedWithin(socket, 8_000)).toBe(true);
    } finally {
      clearInterval(trickle);
    }
  });

  it("closes an idle keep-alive connection after its request was answered", async () => {
    const socket = await tlsConnection(node);
    const answered = statusOf(socket, 5_000);
    socket.write("GET /api/v1/health HTTP/1.1\r\nhost: localhost\r\nconnection: keep-alive\r\n\r\n");
    expect(await answered).toBe(200);
    expect(await closedWithin(socket, 8_000)).toBe(true);
  });
});

describe("attack: one address opens many idle connections (limit 8 per address, long time-outs)", () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startTestNode({
      config: {
        connections: {
          handshakeSeconds: 60,
          headerSeconds: 60,
          requestSeconds: 120,
          idleSeconds: 60,
          perAddress: 8,
        },
      },
    });
  });
  afterAll(async () => {
    await node.close();
  });

  it("closes the attacker's connections beyond the limit at once, while another address is served", async () => {
    const attacker: net.Socket[] = [];
    try {
      for (let i = 0; i < 30; i++) attacker.push(await rawTcp(node.server.port, "127.0.0.2"));
      const closed = await Promise.all(attacker.map((s) => closedWithin(s, 3_000)));
      expect(closed.filter(Boolean).length).toBeGreaterThanOrEqual(30 - 8);
      expect(closed.filter((c) => !c).length).toBeLessThanOrEqual(8);
      // Another address is served as usual.
      expect(await reach(node.client("receiver"))).toBe(200);
      // And the attacker's own address is served again once its connections are gone.
      for (const s of attacker) s.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const again = await tlsConnection(node, "127.0.0.2");
      const answered = statusOf(again, 5_000);
      again.write("GET /api/v1/health HTTP/1.1\r\nhost: localhost\r\n\r\n");
      expect(await answered).toBe(200);
      again.destroy();
    } finally {
      for (const s of attacker) s.destroy();
    }
  });
});
