/**
 * Who is asking: the TLS client certificate (always present — the handshake refuses connections
 * without one), the session cookie, the CSRF token and the device signature, checked in that order by
 * `guard` before a handler calls the service.
 */
import { createHash } from "node:crypto";
import { TLSSocket } from "node:tls";
import type { FastifyReply, FastifyRequest } from "fastify";
import { peerIdentity } from "../crypto/pki/peer-identity.js";
import type { Actor, ServiceContext } from "../service/context.js";
import { verifyDeviceRequest } from "../service/identity/devices.js";
import { ServiceError } from "../service/errors.js";
import { recordRefusal } from "../service/audit/refusal-log.js";
import { clientAddress } from "./proxy-protocol-listener.js";
import {
  authenticate,
  checkCsrf,
  sessionActor,
  type PeerCertificate,
  type Session,
} from "../service/identity/sessions.js";

/** `__Host-` prefix: the browser only accepts it Secure, on this exact host, for path "/". */
export const SESSION_COOKIE = "__Host-kenshin_session";
export const CSRF_HEADER = "x-csrf-token";
export const DEVICE_HEADER = "x-kenshin-device";

declare module "fastify" {
  interface FastifyRequest {
    /** The exact body bytes, for the device signature's body digest. */
    rawBody: Buffer | null;
  }
}

/** The verified client certificate of the connection. */
export function peerOf(request: FastifyRequest): PeerCertificate {
  const socket = request.raw.socket;
  // The handshake already refused unauthorised certificates; checked again because peerIdentity
  // itself verifies nothing.
  if (!(socket instanceof TLSSocket) || !socket.authorized) throw noPeer();
  // A connection's client certificate is fixed at its handshake (TLS 1.3 has no renegotiation): it is
  // parsed once per connection, not on every request of a keep-alive connection.
  let peer = peers.get(socket);
  if (peer === undefined) {
    peer = parsedPeer(socket.getPeerCertificate());
    if (!peer) throw noPeer();
    peers.set(socket, peer);
  }
  return peer;
}

/**
 * What a client certificate names, parsed once per certificate rather than once per connection: the
 * result is a function of the certificate's DER alone (peerIdentity verifies nothing), and parsing it
 * in JavaScript cost more than the rest of a short keep-alive connection's requests together. Keyed by
 * the SHA-256 of the DER, which is the fingerprint the session check compares anyway.
 */
function parsedPeer(cert: ReturnType<TLSSocket["getPeerCertificate"]>): PeerCertificate | undefined {
  const raw: unknown = (cert as { raw?: unknown } | null | undefined)?.raw;
  if (!Buffer.isBuffer(raw)) return undefined;
  const fingerprint = createHash("sha256").update(raw).digest("hex");
  const known = parsed.get(fingerprint);
  if (known !== undefined) return known;
  const identity = peerIdentity(cert);
  if (!identity) return undefined;
  const peer = { fingerprint: identity.fingerprintSha256, serial: identity.serialHex };
  if (parsed.size >= PARSED_KEPT) {
    const oldest = parsed.keys().next();
    if (oldest.done !== true) parsed.delete(oldest.value);
  }
  parsed.set(fingerprint, peer);
  return peer;
}

/** Certificates kept parsed (FIFO-bounded: about one per institution's terminals). */
const PARSED_KEPT = 4096;
const parsed = new Map<string, PeerCertificate>();

const peers = new WeakMap<TLSSocket, PeerCertificate>();

function noPeer(): ServiceError {
  return new ServiceError("AUTH_CERTIFICATE_MISMATCH", "クライアント証明書を確認できません", {});
}

/** The session token from the cookie header (no cookie library: one cookie, strict syntax). */
export function sessionToken(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== "string" || header.length > 4096) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(token: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0`;
}

export interface GuardOptions {
  /** Only this role may call it. */
  readonly role?: Session["role"];
  /** A state change: needs the CSRF token (and, unless `device: false`, a device signature). */
  readonly change?: boolean;
  readonly device?: boolean;
  /** Allowed while the password must still be changed. */
  readonly allowMustChange?: boolean;
}

export interface Guarded {
  readonly session: Session;
  readonly actor: Actor;
}

/**
 * The user's network address (sessions, audit entries, AuditEvent agent.network): the TCP peer, or
 * behind haproxy the source of its PROXY v2 header (proxy-protocol-listener.ts).
 */
export function requestIp(request: FastifyRequest): string | undefined {
  return clientAddress(request.raw.socket);
}

/** Authenticates and authorises a request; throws a coded ServiceError otherwise. */
export async function guard(
  ctx: ServiceContext,
  request: FastifyRequest,
  options: GuardOptions = {},
): Promise<Guarded> {
  const peer = peerOf(request);
  const session = await authenticate(ctx, sessionToken(request), peer);
  if (session.mustChangePassword && options.allowMustChange !== true) {
    throw new ServiceError("AUTH_PASSWORD_CHANGE_REQUIRED", "仮パスワードを変更してから操作してください", {});
  }
  if (options.role !== undefined && session.role !== options.role) {
    throw new ServiceError("AUTH_FORBIDDEN", "この操作の権限がありません", {});
  }
  let device: Actor["device"];
  if (options.change === true) {
    try {
      const csrf = request.headers[CSRF_HEADER];
      checkCsrf(session, typeof csrf === "string" ? csrf : undefined);
      if (options.device !== false) {
        device = await verifyDeviceRequest(ctx, session.loginId, signedRequest(request));
      }
    } catch (error) {
      // A forged or replayed state change is a refusal like any other: on the ledger (rate-limited).
      if (error instanceof ServiceError) {
        await recordRefusal(ctx, sessionActor(session, { ip: requestIp(request), requestId: request.id }), {
          action: "request",
          code: error.code,
          detail: `${request.method} ${request.routeOptions.url ?? "-"}`,
        });
      }
      throw error;
    }
  }
  return { session, actor: sessionActor(session, { ip: requestIp(request), requestId: request.id, device }) };
}

/** What a device signature covers, as this server received it. */
export function signedRequest(request: FastifyRequest) {
  const header = request.headers[DEVICE_HEADER];
  return {
    header: typeof header === "string" ? header : undefined,
    method: request.method,
    path: request.url,
    bodySha256Hex: createHash("sha256")
      .update(request.rawBody ?? Buffer.alloc(0))
      .digest("hex"),
  };
}

/** Sends a CSV download (never cached; a safe file name). */
export function sendCsv(reply: FastifyReply, fileName: string, csv: string): FastifyReply {
  return reply
    .header("content-type", "text/csv; charset=utf-8")
    .header("content-disposition", `attachment; filename="${fileName.replace(/[^A-Za-z0-9._-]/g, "_")}"`)
    .send(csv);
}
