/**
 * A lingering close for the connections the HTTP server closes on its own (an answer with
 * `Connection: close`): after the answer it sends its FIN and goes on reading — and discarding — what
 * the client still sends, until the client closes too or a short bound passes, and only then destroys
 * the socket.
 *
 * Why: a node may answer before the request body has all arrived (the quarantine gate's coded 503, a
 * refused envelope key, a body over its limit). Node's HTTP server then destroys the socket right
 * after the answer (`destroySoon`), and the body bytes still on their way reach a closed socket: the
 * node's kernel answers them with a reset, and a reset that overtakes the answer on the client's side
 * discards it — the client sees EPIPE or ECONNRESET instead of the answer it was sent (CI, Node 20
 * under load: the upload that met the gate's 503 in test/transfer-client-retry failed with EPIPE, so
 * it was not sent again). Web servers have closed this way for the same reason since HTTP/1.1.
 *
 * Only `destroySoon` (the graceful close) lingers; `destroy()` — limits, revoked certificates, a
 * listener closing for good — stays immediate. The bound keeps a client that never stops sending from
 * holding the socket.
 */
import type { Server as TlsServer, TLSSocket } from "node:tls";

/** How long a closed connection keeps reading what its client still sends. */
export const LINGER_MS = 2000;

/** Makes every TLS connection of `server` linger when the server closes it gracefully. */
export function lingerOnGracefulClose(server: TlsServer, lingerMs = LINGER_MS): void {
  server.on("secureConnection", (socket: TLSSocket) => {
    socket.destroySoon = function lingeringClose(this: TLSSocket): void {
      if (this.destroyed) return;
      const finish = (): void => {
        clearTimeout(bound);
        this.destroy();
      };
      const bound = setTimeout(finish, lingerMs);
      bound.unref();
      // The client's own close (its FIN, or a reset) ends the wait; until then what it sends is read
      // and dropped, so nothing it sends is answered by a reset.
      this.once("end", finish);
      this.once("close", () => {
        clearTimeout(bound);
      });
      this.on("data", () => undefined);
      this.resume();
      if (this.writable) this.end();
    };
  });
}
