/**
 * Node `tls` / `https` server options for the service's front door: TLS 1.3 only (RFC 8446), a client
 * certificate from the service CA required on every connection, and the CA's CRL checked at each
 * handshake. Security requirements C2–C4: MHLW guideline 6.0 asks for TLS 1.3 with client
 * authentication over open networks, and the CRYPTREC/IPA TLS guideline (v3.0.1) lists the suites.
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import type { TlsOptions } from "node:tls";
import { assertCertificateAuthority } from "./ca.js";
import { checkCrl } from "./crl-check.js";
import { PkiError } from "./errors.js";
import { MAX_PEM_CHARS, parseCertificatePem } from "./pem.js";

/**
 * TLS 1.3 cipher suites, in the server's order of preference: the AES-GCM suites of the CRYPTREC/IPA
 * TLS guideline. AES is on CRYPTREC's e-Government recommended cipher list; TLS_CHACHA20_POLY1305_SHA256
 * is left out because ChaCha20-Poly1305 is not, and the CCM suites because browsers do not offer them.
 * AES-256 first: the cost difference is negligible with AES-NI, and it is the "high security" choice.
 */
export const TLS13_CIPHER_SUITES = ["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"] as const;

/**
 * Key-exchange groups (RFC 8446 §4.2.7). X25519 first because every browser sends a key share for it
 * (no extra round trip); P-256 and P-384 are the CRYPTREC-listed curves and serve clients that prefer
 * them, such as FIPS-mode OpenSSL.
 */
export const ECDH_CURVES = "X25519:P-256:P-384";

/**
 * Builds the options for `https.createServer(options)` / `tls.createServer(options)`, and the same
 * object again for `server.setSecureContext(options)` whenever the CRL changes: a new secure context
 * applies to every handshake from then on without a restart. Everything is checked first, so that a bad
 * file is an error here rather than a server that refuses every client:
 * - the CA certificate is a CA; the CRL is one X.509 v2 CRL signed by it (and, given `now`, current);
 * - the server key belongs to the server certificate (which may come from another, public CA).
 *
 * Never pass the same `ticketKeys` to two secure contexts: a TLS 1.3 resumption does not present the
 * client certificate again, so a session ticket that outlives a CRL reload would let a revoked
 * certificate back in. With the default (fresh keys per context) the reload ends every resumable
 * session.
 * @throws PkiError PKI_CERT_INVALID, PKI_NOT_A_CA, PKI_KEY_INVALID, PKI_KEY_MISMATCH, PKI_CRL_INVALID,
 *   PKI_ISSUER_MISMATCH, PKI_CRL_EXPIRED
 */
export function tlsServerOptions(o: {
  caCertPem: string;
  certPem: string;
  keyPem: string;
  crlPem: string;
  /** When given, a CRL past its nextUpdate is refused (PKI_CRL_EXPIRED) instead of loaded. */
  now?: Date;
}): TlsOptions {
  assertCertificateAuthority(parseCertificatePem(o.caCertPem));
  const server = parseCertificatePem(o.certPem);
  if (!server.node.checkPrivateKey(privateKey(o.keyPem))) {
    throw new PkiError("PKI_KEY_MISMATCH", "サーバーの秘密鍵がサーバー証明書と対応していません");
  }
  checkCrl({ caCertPem: o.caCertPem, crlPem: o.crlPem, ...(o.now === undefined ? {} : { now: o.now }) });
  return {
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
    // Node routes names beginning with TLS_ to SSL_CTX_set_ciphersuites (the TLS 1.3 list).
    ciphers: TLS13_CIPHER_SUITES.join(":"),
    ecdhCurve: ECDH_CURVES,
    honorCipherOrder: true,
    requestCert: true,
    rejectUnauthorized: true,
    // Only the service CA: client certificates from any other issuer fail the handshake. The CA
    // certificate is the sole trust anchor here, never the system store.
    ca: o.caCertPem,
    cert: o.certPem,
    key: o.keyPem,
    crl: o.crlPem,
  };
}

// The server key may be any type its certificate has (RSA or EC from a public CA); only the match matters.
function privateKey(pem: unknown): KeyObject {
  if (typeof pem !== "string" || pem.length === 0 || pem.length > MAX_PEM_CHARS) {
    throw new PkiError("PKI_KEY_INVALID", "サーバーの秘密鍵の PEM がありません、または大きすぎます");
  }
  try {
    return createPrivateKey({ key: pem, format: "pem" });
  } catch (cause) {
    throw new PkiError(
      "PKI_KEY_INVALID",
      "サーバーの秘密鍵を読めません (暗号化された鍵は受け付けません)",
      {},
      { cause },
    );
  }
}
