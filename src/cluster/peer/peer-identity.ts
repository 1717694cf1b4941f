/**
 * The one check every node-to-node client makes of the server it reached: the certificate is valid for
 * the address (Node's own host check) and names the very node that was meant — a certificate of another
 * node of the same CA is refused, so a peer cannot answer in another's name.
 */
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { nodeIdentity } from "../../crypto/pki/index.js";

/** `checkServerIdentity` for a TLS connection to the node named `nodeName`. */
export function peerServerIdentity(
  nodeName: string,
): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const hostError = checkServerIdentity(host, cert);
    if (hostError !== undefined) return hostError;
    return nodeIdentity(cert)?.nodeName === nodeName
      ? undefined
      : new Error("peer certificate names another node");
  };
}
