/**
 * The PROXY protocol version 2 header (haproxy's `send-proxy-v2`), parsed from the first bytes of a
 * connection before TLS: it carries the address of the user the load balancer accepted, so that a node
 * behind haproxy in TCP pass-through knows who it talks to (per-address limit, sessions, the AuditEvent's
 * agent.network).
 *
 * Spec: https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt, section 2.2 (binary header format).
 * Only version 2 is read; the text header of version 1 is refused, as is anything that is not a whole,
 * well-formed v2 header. The bytes come from the network: every length is checked before it is used.
 * Whether a header is honoured at all (only from a configured proxy address) is the listener's decision
 * (proxy-protocol-listener.ts); this module only reads bytes.
 */
import { CodedError } from "../coded-error.js";

export type ProxyProtocolErrorCode =
  /** The bytes are not the v2 signature (e.g. a TLS ClientHello sent straight to the node). */
  | "PROXY_SIGNATURE_INVALID"
  /** A version 1 (text) header: not accepted. */
  | "PROXY_V1_UNSUPPORTED"
  /** Version other than 2, or a command other than LOCAL / PROXY. */
  | "PROXY_VERSION_UNSUPPORTED"
  /** An address family / transport we do not take (UDP, UNIX sockets, unknown values). */
  | "PROXY_FAMILY_UNSUPPORTED"
  /** The length field is larger than MAX_PROXY_BODY_BYTES or shorter than its address block. */
  | "PROXY_LENGTH_INVALID"
  /** The connection ended before the whole header arrived. */
  | "PROXY_HEADER_TRUNCATED"
  /** The whole header did not arrive within the time allowed. */
  | "PROXY_HEADER_TIMEOUT";

export class ProxyProtocolError extends CodedError<ProxyProtocolErrorCode> {
  override readonly name = "ProxyProtocolError";
}

/** The 12-byte v2 signature (spec 2.2): "\r\n\r\n\0\r\nQUIT\n". */
export const PROXY_V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
/** Signature, version/command, family/transport, 2-byte length. */
export const PROXY_V2_FIXED_BYTES = 16;
/**
 * The largest address block plus TLVs we read. haproxy sends 12 (IPv4) or 36 (IPv6) bytes plus the
 * TLVs of `proxy-v2-options` (none configured here); 512 leaves room and bounds what a peer can make us
 * buffer.
 */
export const MAX_PROXY_BODY_BYTES = 512;

const V1_PREFIX = Buffer.from("PROXY ", "latin1");
const COMMAND_LOCAL = 0x0;
const COMMAND_PROXY = 0x1;
const FAMILY_UNSPEC = 0x0;
const FAMILY_INET = 0x1;
const FAMILY_INET6 = 0x2;
const TRANSPORT_UNSPEC = 0x0;
const TRANSPORT_STREAM = 0x1;
const INET_BLOCK = 12;
const INET6_BLOCK = 36;

export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

/**
 * A whole header. `command: "local"` is a connection the proxy made itself (haproxy's health checks
 * with `check-send-proxy`): the connection's own addresses stand. `source` is set only for "proxy" over
 * TCP/IPv4 or TCP/IPv6.
 */
export interface ProxyHeader {
  readonly command: "local" | "proxy";
  /** Bytes the header took; what follows belongs to the connection (the TLS ClientHello). */
  readonly length: number;
  readonly source?: ProxyEndpoint;
  readonly destination?: ProxyEndpoint;
}

export type ProxyParse =
  | { readonly kind: "header"; readonly header: ProxyHeader }
  /** The bytes so far are a valid beginning: at least `need` bytes in all are needed. */
  | { readonly kind: "incomplete"; readonly need: number };

function refuse(code: ProxyProtocolErrorCode, message: string, context: Record<string, unknown> = {}): never {
  throw new ProxyProtocolError(code, message, context);
}

/** Whether `bytes` so far agree with `prefix` (as far as both go). */
function agreesWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function ipv4(bytes: Uint8Array, at: number): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
}

function ipv6(view: DataView, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(view.getUint16(at + i * 2).toString(16));
  // The WHATWG URL serializer writes IPv6 in the RFC 5952 canonical form (as Node reports addresses).
  return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
}

/**
 * Reads a PROXY v2 header from the start of `bytes` (the connection's first bytes, possibly followed
 * by more). Refuses as soon as the bytes cannot be the start of one, without waiting for more.
 * @throws ProxyProtocolError PROXY_SIGNATURE_INVALID, PROXY_V1_UNSUPPORTED, PROXY_VERSION_UNSUPPORTED,
 *   PROXY_FAMILY_UNSUPPORTED, PROXY_LENGTH_INVALID
 */
export function parseProxyHeader(bytes: Uint8Array): ProxyParse {
  if (!agreesWith(bytes, PROXY_V2_SIGNATURE)) {
    if (bytes.length > 0 && agreesWith(bytes, V1_PREFIX)) {
      refuse("PROXY_V1_UNSUPPORTED", "PROXY プロトコル v1 のヘッダーは受け付けません");
    }
    refuse("PROXY_SIGNATURE_INVALID", "PROXY プロトコル v2 のヘッダーではありません");
  }
  if (bytes.length < PROXY_V2_FIXED_BYTES) return { kind: "incomplete", need: PROXY_V2_FIXED_BYTES };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const versionCommand = view.getUint8(12);
  const version = versionCommand >> 4;
  const command = versionCommand & 0x0f;
  if (version !== 2 || (command !== COMMAND_LOCAL && command !== COMMAND_PROXY)) {
    refuse("PROXY_VERSION_UNSUPPORTED", "PROXY プロトコルの版またはコマンドが対応外です", {
      version,
      command,
    });
  }
  const familyTransport = view.getUint8(13);
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  const bodyLength = view.getUint16(14);
  if (bodyLength > MAX_PROXY_BODY_BYTES) {
    refuse("PROXY_LENGTH_INVALID", "PROXY プロトコルのヘッダーが長すぎます", {
      length: bodyLength,
      max: MAX_PROXY_BODY_BYTES,
    });
  }
  // Checked before waiting for the body: a bad family is refused on its first 16 bytes.
  const block =
    family === FAMILY_INET && transport === TRANSPORT_STREAM
      ? INET_BLOCK
      : family === FAMILY_INET6 && transport === TRANSPORT_STREAM
        ? INET6_BLOCK
        : family === FAMILY_UNSPEC && transport === TRANSPORT_UNSPEC
          ? 0
          : undefined;
  // LOCAL: the spec says the receiver must accept it whatever the family and ignore the address block.
  if (command === COMMAND_PROXY && block === undefined) {
    refuse(
      "PROXY_FAMILY_UNSUPPORTED",
      "PROXY プロトコルのアドレス種別が対応外です (TCP/IPv4, TCP/IPv6 のみ)",
      {
        family,
        transport,
      },
    );
  }
  if (command === COMMAND_PROXY && bodyLength < (block ?? 0)) {
    refuse("PROXY_LENGTH_INVALID", "PROXY プロトコルのアドレスが短すぎます", { length: bodyLength });
  }
  const length = PROXY_V2_FIXED_BYTES + bodyLength;
  if (bytes.length < length) return { kind: "incomplete", need: length };
  if (command === COMMAND_LOCAL || block === 0 || block === undefined) {
    // PROXY over UNSPEC: "the receiver must ignore the address information" (2.2) — as LOCAL.
    return { kind: "header", header: { command: "local", length } };
  }
  const at = PROXY_V2_FIXED_BYTES;
  const [source, destination] =
    block === INET_BLOCK ? [ipv4(bytes, at), ipv4(bytes, at + 4)] : [ipv6(view, at), ipv6(view, at + 16)];
  const ports = at + (block === INET_BLOCK ? 8 : 32);
  return {
    kind: "header",
    header: {
      command: "proxy",
      length,
      source: { address: source, port: view.getUint16(ports) },
      destination: { address: destination, port: view.getUint16(ports + 2) },
    },
  };
}
