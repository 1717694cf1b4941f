/**
 * Bounds on connections, so that slow or idle clients cannot hold the server (issue 15, attack 6: a raw
 * TCP connection without a certificate was held 120 s, half-sent headers over 130 s, and ~1,000 idle
 * sockets from one address blocked everyone else).
 *
 * - TLS handshake: `handshakeTimeout` (Node's default is 120 s).
 * - Request headers and the whole request (body included): `headersTimeout` / `requestTimeout`,
 *   enforced by Node's connection checker, which runs every second here (default 30 s).
 * - Idle keep-alive: `keepAliveTimeout`; a connection silent for longer than the idle bound is also
 *   closed by the socket time-out.
 * - Connections per address: counted at TCP accept, before any TLS work; one over the limit is closed
 *   at once, so one address cannot use up the server's sockets and CPU for others.
 */
import type { Server } from "node:https";
import type { Socket } from "node:net";
import type { ServiceConfig } from "../service/config.js";

type Bounds = ServiceConfig["connections"];

/** Options for `https.createServer` (passed through Fastify's `https` option). */
export function connectionServerOptions(bounds: Bounds) {
  return {
    handshakeTimeout: bounds.handshakeSeconds * 1000,
    headersTimeout: bounds.headerSeconds * 1000,
    requestTimeout: Math.max(bounds.requestSeconds, bounds.headerSeconds) * 1000,
    connectionsCheckingInterval: 1000,
  };
}

/** Fastify options that Fastify itself applies to the server after creating it. */
export function connectionFastifyOptions(bounds: Bounds) {
  return {
    keepAliveTimeout: bounds.idleSeconds * 1000,
    requestTimeout: Math.max(bounds.requestSeconds, bounds.headerSeconds) * 1000,
    // Socket inactivity: no byte either way for this long (the longest of the other bounds, so it never
    // cuts a request the other bounds still allow).
    connectionTimeout: Math.max(bounds.idleSeconds, bounds.headerSeconds, bounds.handshakeSeconds) * 1000,
  };
}

/** Closes, at accept, every connection beyond `perAddress` open ones from the same address. */
export function limitConnectionsPerAddress(server: Server, perAddress: number): void {
  const open = new Map<string, number>();
  server.prependListener("connection", (socket: Socket) => {
    const address = socket.remoteAddress ?? "unknown";
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
