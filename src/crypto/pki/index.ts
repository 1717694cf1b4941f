/**
 * The service's private PKI: CA, server and client certificates, PKCS#12 export, CRLs and the TLS server
 * options that enforce them. Named re-exports only (no `export *`), so this list is the folder's API.
 */
export {
  createCertificateAuthority,
  loadCertificateAuthority,
  type CaMaterial,
  type LoadedCertificateAuthority,
} from "./ca.js";
export {
  issueClientCertificate,
  issueNodeCertificate,
  issueServerCertificate,
  type IssuedCertificate,
} from "./certificates.js";
export { INSTITUTION_URN_PREFIX } from "./client-identity.js";
export { createCrl, type RevocationReason, type RevokedCertificate } from "./crl.js";
export { checkCrl, type CrlSummary } from "./crl-check.js";
export { PkiError, type PkiErrorCode } from "./errors.js";
export { NODE_URN_PREFIX, nodeIdentity, type NodeIdentity } from "./node-identity.js";
export { peerIdentity, type PeerIdentity } from "./peer-identity.js";
export { exportPkcs12, PKCS12_ITERATIONS } from "./pkcs12.js";
export { ECDH_CURVES, TLS13_CIPHER_SUITES, tlsServerOptions } from "./tls-options.js";
export { CLOCK_SKEW_MS, DEFAULT_VALIDITY_DAYS } from "./validity.js";
