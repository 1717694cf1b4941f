/**
 * A cluster node's identity in its certificate: subjectAltName URI `urn:kenshin:node:<name>` and
 * extKeyUsage serverAuth + clientAuth (issueNodeCertificate). A peer is accepted as a node only when its
 * certificate says exactly that, so a user's client certificate (institution URN, clientAuth only) can
 * never call the peer endpoint, and a node certificate is not a user login (peerIdentity requires an
 * institution URN).
 */
import { createHash } from "node:crypto";
import type { PeerCertificate } from "node:tls";
import { PkiError } from "./errors.js";
import { MAX_PEM_CHARS } from "./pem.js";
import { x509 } from "./x509-provider.js";

export const NODE_URN_PREFIX = "urn:kenshin:node:";

// Lower-case letters, digits and "-": safe in URNs, haproxy server names, file names and etcd keys.
const NODE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

/**
 * Checks a node name: 1–32 lower-case letters, digits and inner "-".
 * @throws PkiError PKI_OPTION_INVALID
 */
export function checkNodeName(value: unknown): string {
  if (typeof value !== "string" || !NODE_NAME.test(value)) {
    throw new PkiError("PKI_OPTION_INVALID", "ノード名は英小文字・数字・「-」の 32 文字以内です", {
      field: "nodeName",
      expected: NODE_NAME.source,
    });
  }
  return value;
}

export function nodeUrn(name: string): string {
  return `${NODE_URN_PREFIX}${checkNodeName(name)}`;
}

export interface NodeIdentity {
  readonly nodeName: string;
  readonly serialHex: string;
  readonly fingerprintSha256: string;
}

/**
 * Reads the node identity from `socket.getPeerCertificate()`. It verifies nothing: call it only once
 * OpenSSL has checked the chain to the service CA (`socket.authorized`). Undefined unless the
 * certificate has both serverAuth and clientAuth and exactly one node URN.
 */
export function nodeIdentity(cert: PeerCertificate): NodeIdentity | undefined {
  const raw: unknown = (cert as Partial<PeerCertificate> | null | undefined)?.raw;
  if (!Buffer.isBuffer(raw) || raw.length === 0 || raw.length > MAX_PEM_CHARS) return undefined;
  let parsed: x509.X509Certificate;
  try {
    parsed = new x509.X509Certificate(new Uint8Array(raw));
  } catch {
    return undefined;
  }
  const usages = parsed.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [];
  if (
    !usages.includes(x509.ExtendedKeyUsage.serverAuth) ||
    !usages.includes(x509.ExtendedKeyUsage.clientAuth)
  ) {
    return undefined;
  }
  const names = (parsed.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [])
    .filter((n) => n.type === "url" && n.value.startsWith(NODE_URN_PREFIX))
    .map((n) => n.value.slice(NODE_URN_PREFIX.length));
  const nodeName = names.length === 1 ? names[0] : undefined;
  if (nodeName === undefined || !NODE_NAME.test(nodeName)) return undefined;
  return {
    nodeName,
    serialHex: parsed.serialNumber.toLowerCase(),
    fingerprintSha256: createHash("sha256").update(raw).digest("hex"),
  };
}
