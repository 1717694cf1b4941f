/**
 * The node's user-facing listening socket, kept apart from the HTTPS server that serves the connections
 * it accepts, so that a cluster node can stop accepting while it is quarantined and start again when it
 * rejoins (issue 11: users on healthy nodes never see a failure).
 *
 * Why a closed socket and not a 503: haproxy runs in TCP pass-through (TLS ends at the node), so it cannot
 * see an HTTP status, and its health check notices a quarantine only one or two check intervals later.
 * A connection haproxy opens to a node that does not listen is refused by the kernel before a byte of the
 * user's request left haproxy; haproxy then retries it on another node (`retries` + `option redispatch 1`,
 * processes/haproxy.ts) and the user never knows. A 503 from a node that accepted the connection reaches
 * the user instead.
 *
 * The accepted TCP socket is handed to the HTTPS server as its `connection` event (the way Node documents
 * for injecting connections), so TLS, the handshake and header bounds, the per-address limit
 * (connection-limits.ts) and the open-connection guard (open-connections.ts) see it exactly as before.
 * Re-listening opens a new socket on the same port (libuv sets SO_REUSEADDR, so the connections still open
 * on the port do not hold it).
 *
 * Behind haproxy (setting `proxy.trusted`), a connection from the proxy first passes its PROXY v2 header
 * (proxy-protocol-listener.ts): it reaches the HTTPS server only once the header is read, with the user's
 * address attached, so the per-address limit counts users and not the proxy. One whose header is bad
 * or late is closed (a direct TLS connection from that address is served as before).
 */
import { createServer, type Server, type Socket } from "node:net";
import { acceptProxied, fromTrustedProxy, type ProxyTrust } from "./proxy-protocol-listener.js";

/** The HTTPS server the accepted connections go to (only its `connection` event is used). */
export interface ConnectionSink {
  emit(event: "connection", socket: Socket): boolean;
}

export interface UserListener {
  /** The port users connect to (fixed at the first listen, kept across pauses). */
  readonly port: number;
  /** True while new connections are accepted. */
  accepting(): boolean;
  /**
   * Stops accepting at once: new connections are refused by the kernel (those already queued in the
   * kernel's accept backlog are reset). Connections already accepted are left to the HTTPS server.
   */
  stopAccepting(): void;
  /** Listens again on the same port (bounded retries while the port is briefly unavailable). */
  startAccepting(): Promise<void>;
  /** Stops accepting for good and destroys every connection this listener accepted. */
  close(): void;
}

const RELISTEN_ATTEMPTS = 20;
const RELISTEN_PAUSE_MS = 250;

/** Where to listen, and (behind a load balancer) which peers send PROXY v2 headers. */
export interface ListenAt {
  readonly host: string;
  readonly port: number;
  readonly proxy?: ProxyTrust;
}

function listenOn(server: ConnectionSink, at: ListenAt, sockets: Set<Socket>): Promise<Server> {
  return new Promise((resolve, reject) => {
    // noDelay as Node's own HTTPS server sets it for the sockets it accepts.
    const door = createServer({ noDelay: true }, (socket) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      const proxy = at.proxy;
      if (proxy === undefined || !fromTrustedProxy(socket, proxy)) {
        server.emit("connection", socket);
        return;
      }
      acceptProxied(socket, proxy.headerTimeoutMs).then(
        () => {
          if (!socket.destroyed) server.emit("connection", socket);
        },
        () => socket.destroy(),
      );
    });
    door.once("error", reject);
    door.listen({ host: at.host, port: at.port }, () => {
      door.off("error", reject);
      // Errors of a listening socket after it listens (none expected) must not crash the process.
      door.on("error", () => undefined);
      resolve(door);
    });
  });
}

/** Listens for users on `host:port` (port 0: a free one) and hands each connection to `server`. */
export async function listenForUsers(server: ConnectionSink, at: ListenAt): Promise<UserListener> {
  const sockets = new Set<Socket>();
  let door: Server | undefined = await listenOn(server, at, sockets);
  const address = door.address();
  const port = typeof address === "object" && address !== null ? address.port : at.port;
  let closed = false;
  // Each pause or resume gets a number: a resume overtaken by a later pause gives up its socket.
  let generation = 0;
  let starting: { readonly generation: number; readonly done: Promise<void> } | undefined;
  const stop = (): void => {
    generation++;
    door?.close();
    door = undefined;
  };
  const start = async (mine: number): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const opened = await listenOn(server, { ...at, port }, sockets);
        if (closed || mine !== generation) {
          opened.close();
          return;
        }
        door = opened;
        return;
      } catch (error) {
        if (closed || mine !== generation) return;
        if (attempt >= RELISTEN_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, RELISTEN_PAUSE_MS));
      }
    }
  };
  return {
    port,
    accepting: () => door !== undefined,
    stopAccepting: stop,
    startAccepting() {
      if (closed || door !== undefined) return Promise.resolve();
      // One attempt at a time; one overtaken by a pause is replaced (it gives up on its own).
      if (starting?.generation === generation) return starting.done;
      const mine = ++generation;
      const done = start(mine).finally(() => {
        if (starting?.generation === mine) starting = undefined;
      });
      starting = { generation: mine, done };
      return done;
    },
    close() {
      closed = true;
      stop();
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
  };
}
