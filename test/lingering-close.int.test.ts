/**
 * The lingering close (src/server/lingering-close.ts) over real TLS 1.3: a server that answers before
 * the request body has arrived (as the quarantine gate's 503 does) and closes the connection. A client
 * still sending its body, reading the answer a moment later, gets the answer only when the server
 * lingers; with Node's own close the body's next bytes meet a closed socket, the reset overtakes the
 * answer, and the client sees EPIPE / ECONNRESET (what failed the upload in transfer-client-retry on CI).
 */
import https from "node:https";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { IssuedCertificate } from "../src/crypto/pki/index.js";
import { lingerOnGracefulClose } from "../src/server/lingering-close.js";
import { issueTestNodeCertificates } from "./cluster/node-certificates.js";

let caPem: string;
let own: IssuedCertificate;
const servers: https.Server[] = [];

beforeAll(async () => {
  const certs = new Map<string, IssuedCertificate>();
  caPem = (await issueTestNodeCertificates("lingering-close test CA", ["server"], certs)).ca.certPem;
  const c = certs.get("server");
  if (c === undefined) throw new Error("no certificate");
  own = c;
});

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((done) => s.close(done));
  }
});

/** A server that refuses every request at once with a 503 and `Connection: close`. */
async function refusingServer(o: { linger: boolean; lingerMs?: number }): Promise<number> {
  const server = https.createServer(
    { cert: own.certPem, key: own.keyPem, minVersion: "TLSv1.3" },
    (_req, res) => {
      res.writeHead(503, { connection: "close", "content-type": "text/plain" }).end("refused");
    },
  );
  if (o.linger) lingerOnGracefulClose(server, o.lingerMs);
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return (server.address() as AddressInfo).port;
}

/**
 * Sends the head of a 64 MiB POST and then `sendMs` of body (64 KiB every 5 ms) without reading, then
 * reads: what came back (the answer's status line, or the transport error's code), and when the server
 * ended the connection.
 */
function postWhileSending(
  port: number,
  o: { sendMs: number; readAfterMs: number },
  sending: { still: boolean } = { still: false },
): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca: caPem, minVersion: "TLSv1.3" }, () => {
      socket.write(`POST /upload HTTP/1.1\r\nhost: node\r\ncontent-length: ${64 << 20}\r\n\r\n`);
      socket.pause();
      const chunk = Buffer.alloc(64 << 10);
      const started = Date.now();
      const pump = setInterval(() => {
        sending.still = !(Date.now() - started > o.sendMs || socket.destroyed);
        if (sending.still) socket.write(chunk, () => undefined);
        else clearInterval(pump);
      }, 5);
      setTimeout(() => {
        let text = "";
        socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
        socket.on("end", () => {
          clearInterval(pump);
          if (socket.destroyed) sending.still = false;
          resolve(text.split("\r\n")[0] ?? "");
        });
        socket.resume();
      }, o.readAfterMs);
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      resolve(error.code ?? error.message);
    });
  });
}

describe("the lingering close of a connection answered before its body arrived", () => {
  it("lets a client still sending its body read the answer", async () => {
    const port = await refusingServer({ linger: true });
    for (let i = 0; i < 5; i++) {
      expect(await postWhileSending(port, { sendMs: 300, readAfterMs: 400 })).toBe(
        "HTTP/1.1 503 Service Unavailable",
      );
    }
  });

  it("without it (Node's own close) the same client loses the answer to a reset", async () => {
    const port = await refusingServer({ linger: false });
    const got = await postWhileSending(port, { sendMs: 300, readAfterMs: 400 });
    expect(got).toMatch(/^(EPIPE|ECONNRESET)$/);
  });

  it("ends the connection after the bound when the client never stops sending", async () => {
    const port = await refusingServer({ linger: true, lingerMs: 300 });
    // The client sends for 3 s and reads nothing before: without the bound the server would read and drop
    // it all; with it the connection is cut while the client still sends.
    const sending = { still: false };
    const got = await postWhileSending(port, { sendMs: 3000, readAfterMs: 3500 }, sending);
    expect([got, sending.still]).toEqual([expect.stringMatching(/^(EPIPE|ECONNRESET)$/), true]);
  });
});
