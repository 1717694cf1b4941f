/**
 * What a cluster node that stops serving (quarantined or repairing, cluster/integrity/node-health.ts; or
 * catching up, cluster/serving-state.ts) does to its users' connections, so that a user reaching the cluster through haproxy is served by a
 * healthy node and never sees the refusal (issue 11):
 *
 * 1. it stops accepting connections (user-listener.ts): haproxy's connect is refused before any byte of
 *    the user's request left haproxy, and haproxy retries it on another node (`option redispatch 1`);
 * 2. connections left idle after an answer (keep-alive) are closed at once, and so are connections that
 *    finished their TLS handshake but never sent a request (a browser's preconnect, older than
 *    {@link UNUSED_GRACE_MS}): the client's next request opens a new connection, which haproxy sends to a
 *    serving node (a browser sends a request again by itself when the kept or preconnected connection it
 *    chose was closed). Before, a preconnect was left open and chromium's next navigation on it got the
 *    503 below as the page (test/e2e/cluster-quarantine.e2e.test.ts: the receiver's /login);
 * 3. a request that still arrives on an open connection gets the coded 503 `CLUSTER_QUARANTINED` (or
 *    `CLUSTER_CATCHING_UP`) before any route runs — nothing was done, so any method may be sent again — with `Connection: close` and
 *    `Retry-After: 1`; our clients (client/api-client.ts, web/src/api.ts) send it again on a new
 *    connection;
 * 4. a request already being served when the node stopped is finished, and its connection is closed
 *    after the answer.
 *
 * `/api/v1/health` asked on a connection still open answers the same 503 (with when the node stopped
 * serving, `urn:kenshin-exchange:outcome:since`). When the node serves
 * again it listens again and haproxy's check brings it back (`rise`). Operators read the state where it
 * is kept for them: the node's integrity fact in etcd (`kenshin cluster status`, the office's monitoring
 * page), not the user port.
 */
import type { Socket } from "node:net";
import type { FastifyInstance } from "fastify";
import { operationOutcome as outcome } from "../fhir/operation-outcome.js";
import type { UserListener } from "./user-listener.js";

/** What the server needs of the node's integrity state (positions and codes only, no data). */
export interface NodeHealthView {
  serving(): boolean;
  snapshot(): { readonly state: string; readonly since: string };
  /**
   * Why the node does not serve, while it does not (cluster/serving-state.ts: CLUSTER_QUARANTINED or
   * CLUSTER_CATCHING_UP); absent: CLUSTER_QUARANTINED.
   */
  refusal?(): { readonly code: string; readonly message: string } | undefined;
  /** Told of every change; returns the way to stop being told (absent: the listener never pauses). */
  onChange?(listener: () => void): () => void;
}

export interface QuarantineGate {
  /**
   * Closes every connection with no request in progress: those that answered, and those that never sent
   * a request once they are {@link UNUSED_GRACE_MS} past their handshake.
   */
  closeIdleConnections(): void;
}

const QUARANTINED = "このノードは点検のため利用を停止しています";

/** Seconds a refused client is told to wait (it is sent again at once to another node by our clients). */
const RETRY_AFTER_SECONDS = "1";

/**
 * How long after its handshake a connection that has not sent a request is left open when the node stops
 * serving. A client that opened a connection for a request sends it at once, and closing it in that
 * moment would cut a request that no client sends again on a fresh connection (the 503 is sent again); a
 * connection silent for longer is a browser's preconnect (or a pool's spare), which the browser drops and
 * replaces when it is closed.
 */
export const UNUSED_GRACE_MS = 100;

/** Per connection: requests in progress, whether it sent one, and when its handshake finished. */
interface Connection {
  inProgress: number;
  used: boolean;
  readonly securedAt: number;
}

/** Refuses requests while the node is not serving and tracks which connections are idle (steps 2–4). */
export function gateOnNodeHealth(app: FastifyInstance, health: NodeHealthView): QuarantineGate {
  const connections = new Map<Socket, Connection>();
  const track = (socket: Socket): Connection => {
    const known = connections.get(socket);
    if (known !== undefined) return known;
    const c: Connection = { inProgress: 0, used: false, securedAt: performance.now() };
    connections.set(socket, c);
    socket.once("close", () => connections.delete(socket));
    return c;
  };
  const closeWhenIdle = (socket: Socket): void => {
    const c = connections.get(socket);
    if (c === undefined || c.inProgress > 0 || socket.destroyed) return;
    const wait = c.used ? 0 : UNUSED_GRACE_MS - (performance.now() - c.securedAt);
    if (wait <= 0) {
      socket.destroySoon();
      return;
    }
    // Too young to tell from a connection whose first request is on its way: looked at again.
    setTimeout(() => {
      if (!health.serving()) closeWhenIdle(socket);
    }, wait).unref();
  };
  // Tracked from the handshake, not the first request: a connection that never sent one is idle too.
  app.server.on("secureConnection", (socket: Socket) => {
    track(socket);
  });
  app.addHook("onRequest", async (request, reply) => {
    const socket = request.raw.socket;
    const c = track(socket);
    c.used = true;
    c.inProgress += 1;
    reply.raw.once("close", () => {
      c.inProgress = Math.max(0, c.inProgress - 1);
      // An answer begun before the node stopped serving: its connection is not kept either.
      if (!health.serving()) closeWhenIdle(socket);
    });
    if (health.serving()) return;
    // Coded like every refusal (`/api/v1/health` too, so a client has one rule), with when the node
    // stopped serving; refused before any route ran, so the request may be sent again.
    const why = health.refusal?.() ?? { code: "CLUSTER_QUARANTINED", message: QUARANTINED };
    const refusal = outcome(why.code, "exception", why.message);
    const since = { url: "urn:kenshin-exchange:outcome:since", valueInstant: health.snapshot().since };
    await reply
      .code(503)
      .header("connection", "close")
      .header("retry-after", RETRY_AFTER_SECONDS)
      .header("content-type", "application/fhir+json; charset=utf-8")
      .send({ ...refusal, issue: refusal.issue.map((i) => ({ ...i, extension: [since] })) });
  });
  app.addHook("onSend", async (_request, reply) => {
    if (!health.serving()) reply.header("connection", "close");
  });
  return {
    closeIdleConnections() {
      for (const socket of connections.keys()) closeWhenIdle(socket);
    },
  };
}

/**
 * Follows the node's health: stops accepting (and closes idle connections) when it stops serving,
 * listens again when it serves. Returns the way to stop following.
 */
export function followNodeHealth(o: {
  readonly health: NodeHealthView;
  readonly listener: UserListener;
  readonly gate: QuarantineGate;
  readonly onError: (error: unknown) => void;
}): () => void {
  const follow = (): void => {
    if (o.health.serving()) {
      if (!o.listener.accepting()) o.listener.startAccepting().catch(o.onError);
      return;
    }
    // Also while a resume is in flight: it must give up.
    o.listener.stopAccepting();
    o.gate.closeIdleConnections();
  };
  const stop = o.health.onChange?.(follow);
  follow();
  return stop ?? (() => undefined);
}
