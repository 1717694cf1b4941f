/**
 * Bounds on connections, so that slow or idle clients cannot hold the server (issue 15, attack 6: a raw
 * TCP connection without a certificate was held 120 s, half-sent headers over 130 s, and ~1,000 idle
 * sockets from one address blocked everyone else).
 *
 * - TLS handshake: `handshakeTimeout` (Node's default is 120 s).
 * - Request headers: `headersTimeout`, enforced by Node's connection checker, which runs every second
 *   here (default 30 s).
 * - The whole request (body included): `requestSeconds` from the moment its headers are read
 *   (`boundRequests`, our own timer rather than Node's `requestTimeout`, so that one route may allow
 *   more): an authenticated upload's body may take `requestSeconds` plus its declared length at
 *   MIN_UPLOAD_BYTES_PER_SECOND (`allowLongBody`), since a 2 GB export streams through the converter as
 *   it arrives and cannot be bounded by ten minutes on a busy machine.
 * - While the server works on a request whose body has all arrived (`serverIsWorking`, from the
 *   preHandler hook for every route and from the upload's body reader: an upload's spool commit and
 *   ledger entries, or 送信確定 reading a 600 MB standard file back to seal it — minutes on a busy
 *   machine), the client has nothing to send: the socket inactivity bound must not cut that
 *   connection (it did: the client's "socket hang up" on every 1 GB upload).
 * - Idle keep-alive: `keepAliveTimeout`; a connection silent for longer than the idle bound is also
 *   closed by the socket time-out.
 * - Connections per address: counted at TCP accept, before any TLS work; one over the limit is closed
 *   at once, so one address cannot use up the server's sockets and CPU for others. Behind haproxy the
 *   address is the user's, from the PROXY v2 header (user-listener.ts reads it before this count).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Server } from "node:https";
import type { Socket } from "node:net";
import type { FastifyInstance } from "fastify";
import type { ServiceConfig } from "../service/config.js";
import { clientAddress } from "./proxy-protocol-listener.js";

type Bounds = ServiceConfig["connections"];

/** Options for `https.createServer` (passed through Fastify's `https` option). */
export function connectionServerOptions(bounds: Bounds) {
  return {
    handshakeTimeout: bounds.handshakeSeconds * 1000,
    headersTimeout: bounds.headerSeconds * 1000,
    // The whole-request bound is boundRequests' (Node's checker still enforces headersTimeout).
    requestTimeout: 0,
    connectionsCheckingInterval: 1000,
  };
}

/** Fastify options that Fastify itself applies to the server after creating it. */
export function connectionFastifyOptions(bounds: Bounds) {
  return {
    keepAliveTimeout: bounds.idleSeconds * 1000,
    requestTimeout: 0,
    // Socket inactivity: no byte either way for this long (the longest of the other bounds, so it never
    // cuts a request the other bounds still allow).
    connectionTimeout: Math.max(bounds.idleSeconds, bounds.headerSeconds, bounds.handshakeSeconds) * 1000,
  };
}

/** Closes, at accept, every connection beyond `perAddress` open ones from the same address. */
export function limitConnectionsPerAddress(server: Server, perAddress: number): void {
  const open = new Map<string, number>();
  server.prependListener("connection", (socket: Socket) => {
    // Behind haproxy, the user's address from the PROXY header (read before this event fires).
    const address = clientAddress(socket) ?? "unknown";
    const count = open.get(address) ?? 0;
    if (count >= perAddress) {
      socket.destroy();
      return;
    }
    open.set(address, count + 1);
    socket.once("close", () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/** The slowest average an authenticated upload's body may arrive at (`allowLongBody`). */
export const MIN_UPLOAD_BYTES_PER_SECOND = 256 * 1024;

const deadlines = new WeakMap<IncomingMessage, { timer: NodeJS.Timeout; started: number }>();

/**
 * Bounds every request, body included, to `requestSeconds` from the moment its headers are read: a
 * request whose body has not all arrived by then has its connection closed (a slowloris body).
 */
export function boundRequests(app: FastifyInstance, bounds: Bounds): void {
  app.addHook("onRequest", (request, reply, done) => {
    const raw = request.raw;
    setDeadline(raw, Date.now(), Math.max(bounds.requestSeconds, bounds.headerSeconds) * 1000);
    reply.raw.once("close", () => {
      clearTimeout(deadlines.get(raw)?.timer);
      deadlines.delete(raw);
    });
    done();
  });
  // Every other route has its whole body once it is parsed: from then on the server is working.
  app.addHook("preHandler", (request, reply, done) => {
    if (request.raw.complete) serverIsWorking(request.raw, reply.raw);
    done();
  });
}

/**
 * Gives a request whose sender is authenticated the time its declared body needs at
 * MIN_UPLOAD_BYTES_PER_SECOND on top of `requestSeconds` (counted from when its headers were read).
 */
export function allowLongBody(raw: IncomingMessage, bounds: Bounds, declaredBytes: number): void {
  const current = deadlines.get(raw);
  if (current === undefined) return;
  const extra = (Math.max(0, declaredBytes) / MIN_UPLOAD_BYTES_PER_SECOND) * 1000;
  setDeadline(raw, current.started, Math.max(bounds.requestSeconds, bounds.headerSeconds) * 1000 + extra);
}

/**
 * The request's body has all arrived and the server is now working on it: the socket's inactivity
 * bound is lifted until the answer is sent (the answer's bytes then count as activity again, and
 * after it Node's keep-alive bound applies). The whole-request deadline no longer applies either.
 */
export function serverIsWorking(raw: IncomingMessage, res: ServerResponse): void {
  clearTimeout(deadlines.get(raw)?.timer);
  deadlines.delete(raw);
  // Node destroys a timed-out socket only when nobody listens for 'timeout' on the request, the
  // response or the server; the response's listener lives exactly as long as this answer. Once the
  // answer has started, a silent connection is a client that stopped reading (a stalled download):
  // that one is closed, as Node would.
  if (res.listenerCount("timeout") === 0)
    res.on("timeout", (socket: Socket) => {
      if (res.headersSent) socket.destroy();
    });
}

function setDeadline(raw: IncomingMessage, started: number, ms: number): void {
  clearTimeout(deadlines.get(raw)?.timer);
  const left = Math.max(0, started + ms - Date.now());
  const timer = setTimeout(() => {
    deadlines.delete(raw);
    if (!raw.complete) raw.socket.destroy();
  }, left);
  timer.unref();
  deadlines.set(raw, { timer, started });
}
