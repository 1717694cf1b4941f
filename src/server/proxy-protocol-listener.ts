/**
 * The socket side of the PROXY protocol v2 (proxy-protocol.ts): on a connection from a trusted proxy
 * address (setting `proxy.trusted`, written by `kenshin cluster init` as haproxy's address), the header
 * is read before TLS, within a time bound, and the user's address it carries is attached to the socket
 * for `clientAddress()` — the one place the per-address limit, sessions and audit entries take an
 * address from.
 *
 * Trust: a header is honoured only from a trusted address. From any other address nothing is read
 * here: a PROXY header sent straight to the node is the first bytes of its TLS stream, which the
 * handshake refuses as garbage.
 *
 * From a trusted address the first byte decides, and nothing else is guessed: the v2 signature's first
 * byte (0x0D) means a header, which must then be whole and valid within the bound or the connection is
 * closed; a TLS handshake record (0x16, RFC 8446 §5.1) means a connection opened straight from that
 * machine without a proxy (an operator, `kenshin` commands and the tests on a one-machine cluster, where
 * everything comes from 127.0.0.1), served under that address as before; anything else is closed.
 * Answering the direct one gives nothing away: whoever can open a connection from the trusted address
 * could as well send a header naming any address, so trusting an address trusts its machine either way.
 */
import { isIP, type Socket } from "node:net";
import { parseProxyHeader, ProxyProtocolError, type ProxyHeader } from "./proxy-protocol.js";

/** Which peers may send a PROXY header, and how long one may take to arrive. */
export interface ProxyTrust {
  /** IP addresses (literals) of the proxies whose headers are honoured. */
  readonly trusted: ReadonlySet<string>;
  readonly headerTimeoutMs: number;
}

// The user's address of a connection accepted from a trusted proxy, keyed by its TCP socket.
const clientAddresses = new WeakMap<Socket, string>();

/** "::ffff:10.0.0.1" (an IPv4 peer on a dual-stack socket) as "10.0.0.1"; other addresses as they are. */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped?.[1] ?? address;
}

/** The set of trusted proxy addresses, each an IP literal (validated by the config schema). */
export function proxyTrust(trusted: readonly string[], headerTimeoutMs: number): ProxyTrust | undefined {
  if (trusted.length === 0) return undefined;
  for (const address of trusted) {
    if (isIP(address) === 0) throw new TypeError(`not an IP address: ${address}`);
  }
  return { trusted: new Set(trusted.map(plainAddress)), headerTimeoutMs };
}

/** Whether this connection comes from a trusted proxy (so it must start with a PROXY header). */
export function fromTrustedProxy(socket: Socket, trust: ProxyTrust): boolean {
  const peer = socket.remoteAddress;
  return peer !== undefined && trust.trusted.has(plainAddress(peer));
}

/**
 * The address of the user on the other end: the source of the PROXY header when the connection came
 * through a trusted proxy, else the TCP peer. Takes the accepted TCP socket or the TLS socket Node's
 * HTTPS server wrapped around it (`_parent`: the socket a TLSSocket was made from, set by Node's
 * tls module since its first versions; it is the only link from the TLS socket back to ours).
 */
export function clientAddress(socket: Socket): string | undefined {
  const own = clientAddresses.get(socket);
  if (own !== undefined) return own;
  const parent = (socket as { _parent?: unknown })._parent;
  const proxied =
    typeof parent === "object" && parent !== null ? clientAddresses.get(parent as Socket) : undefined;
  return proxied ?? socket.remoteAddress;
}

/** The first byte of a TLS record carrying a handshake message (a ClientHello): RFC 8446 §5.1. */
const TLS_HANDSHAKE = 0x16;

/**
 * Reads the PROXY v2 header from a fresh connection, bounded by `timeoutMs`, and puts back the bytes
 * after it (the start of the TLS stream) for the TLS socket to read; "direct" (every byte put back)
 * when the connection starts with a TLS handshake instead. Leaves the socket paused.
 * @throws ProxyProtocolError any code of parseProxyHeader, PROXY_HEADER_TRUNCATED, PROXY_HEADER_TIMEOUT
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<ProxyHeader | "direct"> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const finish = (outcome: ProxyHeader | "direct" | ProxyProtocolError): void => {
      clearTimeout(timer);
      socket.pause();
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.off("error", onEnd);
      if (outcome instanceof ProxyProtocolError) {
        reject(outcome);
        return;
      }
      const used = outcome === "direct" ? 0 : outcome.length;
      if (buffered.length > used) socket.unshift(buffered.subarray(used));
      resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (buffered[0] === TLS_HANDSHAKE) {
        finish("direct");
        return;
      }
      try {
        const parsed = parseProxyHeader(buffered);
        if (parsed.kind === "header") finish(parsed.header);
      } catch (error) {
        finish(
          error instanceof ProxyProtocolError
            ? error
            : new ProxyProtocolError("PROXY_SIGNATURE_INVALID", "PROXY プロトコルのヘッダーを読めません", {}),
        );
      }
    };
    const onEnd = (): void => {
      finish(
        new ProxyProtocolError("PROXY_HEADER_TRUNCATED", "PROXY プロトコルのヘッダーの途中で切断されました", {
          received: buffered.length,
        }),
      );
    };
    const timer = setTimeout(() => {
      finish(
        new ProxyProtocolError("PROXY_HEADER_TIMEOUT", "PROXY プロトコルのヘッダーが時間内に届きません", {
          received: buffered.length,
          timeoutMs,
        }),
      );
    }, timeoutMs);
    timer.unref();
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("close", onEnd);
    socket.once("error", onEnd);
  });
}

/**
 * Reads the header of a connection from a trusted proxy and records the user's address it names
 * (a LOCAL header — haproxy's own health check — and a direct TLS connection keep the connection's own
 * address).
 * @throws ProxyProtocolError as readProxyHeader
 */
export async function acceptProxied(socket: Socket, timeoutMs: number): Promise<void> {
  const header = await readProxyHeader(socket, timeoutMs);
  if (header !== "direct" && header.source !== undefined) {
    clientAddresses.set(socket, plainAddress(header.source.address));
  }
}
