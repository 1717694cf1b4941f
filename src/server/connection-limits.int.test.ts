/**
 * The request bounds of connection-limits.ts on a real Fastify server over real sockets (127.0.0.1,
 * random port, plain HTTP: the bounds are the same for HTTPS). Bounds of 1–2 s keep it short.
 *
 * What broke every 1 GB upload: once the body had all arrived, the server worked for minutes (spool
 * commit, ledger entries) without a byte on the connection, and the socket inactivity bound closed it
 * under the client ("socket hang up"). `serverIsWorking` lifts that bound for the answer's lifetime.
 */
import http from "node:http";
import { Readable } from "node:stream";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  allowLongBody,
  boundRequests,
  connectionFastifyOptions,
  connectionServerOptions,
  serverIsWorking,
} from "./connection-limits.js";

const bounds = { handshakeSeconds: 1, headerSeconds: 1, requestSeconds: 2, idleSeconds: 1, perAddress: 100 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let app: FastifyInstance;
let port = 0;
let bigAnswerClosed: Promise<boolean> | undefined;

beforeAll(async () => {
  // As app.ts builds it, but plain HTTP (Fastify then applies the same time-outs to the server).
  app = Fastify({ http: connectionServerOptions(bounds), ...connectionFastifyOptions(bounds) });
  boundRequests(app, bounds);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/octet-stream", (_request, payload, done) => {
    done(null, payload);
  });
  // Read whole before the handler, as app.ts reads JSON bodies.
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_request, body, done) => {
    done(null, body);
  });
  // Reads the body, then works 2.5 s (longer than the 1 s inactivity bound) before answering.
  // A route with an ordinary (parsed) body: the preHandler hook lifts the bound by itself.
  app.post("/parsed-work", async () => {
    await sleep(2_500);
    return { ok: true };
  });
  // A large answer to a client that never reads it (a stalled download).
  app.post("/big-answer", async (request, reply) => {
    const socket = request.raw.socket;
    bigAnswerClosed = new Promise((resolve) =>
      socket.once("close", () => {
        resolve(true);
      }),
    );
    const chunk = Buffer.alloc(1 << 20, 1);
    let sent = 0;
    const body = new Readable({
      read() {
        sent++;
        this.push(sent > 200 ? null : chunk);
      },
    });
    return reply.header("content-type", "application/octet-stream").send(body);
  });
  for (const [path, lifted, long] of [
    ["/work-lifted", true, false],
    ["/work-plain", false, false],
    ["/long-body", true, true],
    ["/short-body", true, false],
  ] as const) {
    app.post(path, async (request, reply) => {
      if (long) allowLongBody(request.raw, bounds, Number(request.headers["content-length"] ?? 0));
      let bytes = 0;
      for await (const chunk of request.body as AsyncIterable<Buffer>) bytes += chunk.length;
      if (lifted) serverIsWorking(request.raw, reply.raw);
      if (path.startsWith("/work")) await sleep(2_500);
      return { bytes };
    });
  }
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  port = typeof address === "object" && address !== null ? address.port : 0;
});

afterAll(async () => {
  await app.close();
});

/** POSTs `pieces` with `gapMs` between them; resolves with the status or the client's error message. */
function post(
  path: string,
  pieces: readonly Buffer[],
  gapMs: number,
  contentType = "application/octet-stream",
): Promise<number | string> {
  const length = pieces.reduce((n, p) => n + p.length, 0);
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        headers: { "content-type": contentType, "content-length": length },
        agent: false,
      },
      (res) => {
        res.resume();
        res.on("end", () => {
          resolve(res.statusCode ?? 0);
        });
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error("client gave up")));
    req.on("error", (e) => {
      resolve(e.message);
    });
    void (async () => {
      for (const [i, p] of pieces.entries()) {
        if (i > 0) await sleep(gapMs);
        if (req.destroyed) return;
        req.write(p);
      }
      req.end();
    })();
  });
}

/** n pieces of 256 KiB: 6 of them give allowLongBody 6 s on top of the 2 s request bound. */
const pieces = (n: number) => Array.from({ length: n }, () => Buffer.alloc(256 * 1024, 7));

describe("request bounds", () => {
  it("without the lift, a server working 2.5 s after the body loses the connection (the 1 GB failure)", async () => {
    expect(await post("/work-plain", pieces(2), 0)).toMatch(/socket hang up|ECONNRESET/);
  });

  it("with serverIsWorking, the same work is answered", async () => {
    expect(await post("/work-lifted", pieces(2), 0)).toBe(200);
  });

  it("a route whose body is parsed before its handler gets the same lift (送信確定 of a 600 MB file)", async () => {
    expect(await post("/parsed-work", pieces(1), 0, "application/json")).toBe(200);
  });

  it("a client that stops reading a long answer is still cut (the lift ends when the answer starts)", async () => {
    const req = http.request({
      host: "127.0.0.1",
      port,
      path: "/big-answer",
      method: "POST",
      headers: { "content-type": "application/json", "content-length": 2 },
      agent: false,
    });
    req.on("response", (res) => {
      res.pause(); // never read: the server's writes back up and the connection goes silent
    });
    req.on("error", () => undefined);
    req.end("{}");
    try {
      for (let i = 0; i < 50 && bigAnswerClosed === undefined; i++) await sleep(100);
      const closed = await Promise.race([bigAnswerClosed, sleep(10_000).then(() => false)]);
      expect(closed).toBe(true);
    } finally {
      req.destroy();
    }
  });

  it("a body still arriving after requestSeconds is cut; allowLongBody gives a declared body its time", async () => {
    // 6 pieces 600 ms apart: ~3 s of body, over the 2 s request bound, never idle for 1 s.
    expect(await post("/short-body", pieces(6), 600)).toMatch(/socket hang up|ECONNRESET|EPIPE/);
    expect(await post("/long-body", pieces(6), 600)).toBe(200);
  });

  it("a body that stops arriving is still cut by the inactivity bound, even with allowLongBody", async () => {
    expect(await post("/long-body", pieces(3), 2_500)).toMatch(/socket hang up|ECONNRESET|EPIPE/);
  });
});
