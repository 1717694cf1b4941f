/**
 * Connections already open when a certificate stops being usable. TLS checks the CRL only during the
 * handshake, so a keep-alive connection made before `kenshin admin cert revoke` (or before the office
 * disabled the institution) would otherwise stay authenticated for as long as the client keeps it busy.
 * Two defences: every request is checked against the database before any route runs (refused with
 * `Connection: close`), and every CRL reload closes the open connections whose certificate is no longer
 * usable, so they end within the CRL poll interval even when idle.
 */
import { createHash } from "node:crypto";
import { TLSSocket } from "node:tls";
import type { FastifyInstance } from "fastify";
import { isCertificateUsable } from "../service/identity/certificates.js";
import type { ServiceContext } from "../service/context.js";
import { ServiceError } from "../service/errors.js";

/** Lower-case hex SHA-256 of the DER of the connection's client certificate (as the database keeps it). */
function fingerprintOf(socket: TLSSocket, cache: WeakMap<TLSSocket, string>): string | undefined {
  const known = cache.get(socket);
  if (known !== undefined) return known;
  if (!socket.authorized) return undefined;
  const raw: unknown = (socket.getPeerCertificate() as { raw?: unknown } | undefined)?.raw;
  if (!Buffer.isBuffer(raw) || raw.length === 0) return undefined;
  const fingerprint = createHash("sha256").update(raw).digest("hex");
  cache.set(socket, fingerprint);
  return fingerprint;
}

export interface OpenConnections {
  /** Closes every open connection whose certificate was revoked or whose institution was disabled. */
  sweep(): void;
}

export function guardOpenConnections(app: FastifyInstance, ctx: ServiceContext): OpenConnections {
  const cache = new WeakMap<TLSSocket, string>();
  const open = new Set<TLSSocket>();
  app.server.on("secureConnection", (socket: TLSSocket) => {
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  });
  app.addHook("onRequest", async (request, reply) => {
    const socket = request.raw.socket;
    if (!(socket instanceof TLSSocket)) return;
    const fingerprint = fingerprintOf(socket, cache);
    if (fingerprint !== undefined && !isCertificateUsable(ctx, fingerprint)) {
      reply.header("connection", "close");
      throw new ServiceError(
        "AUTH_CERTIFICATE_REVOKED",
        "このクライアント証明書は失効しているか、機関が利用不可になっています",
        {},
      );
    }
  });
  return {
    sweep: () => {
      for (const socket of open) {
        const fingerprint = fingerprintOf(socket, cache);
        if (fingerprint !== undefined && !isCertificateUsable(ctx, fingerprint)) socket.destroy();
      }
    },
  };
}
