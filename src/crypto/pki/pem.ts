/**
 * Strict PEM readers for the inputs of this folder. Each expects exactly one block of one type, so a
 * file holding a chain, a stray key or nothing at all fails here with a code instead of somewhere
 * inside OpenSSL. Sizes are bounded before any parsing: the PEM often comes from files an operator can
 * edit, and a CRL grows with every revocation (about 40 bytes per entry, RFC 5280 §5.1).
 */
import { X509Certificate as NodeX509Certificate } from "node:crypto";
import { PkiError, type PkiErrorCode } from "./errors.js";
import { x509 } from "./x509-provider.js";

/** Upper bound for one certificate or key PEM. Ours are under 1 KiB; 64 KiB leaves room for RSA and chains. */
export const MAX_PEM_CHARS = 64 * 1024;
/** Upper bound for a CRL PEM: about 100 000 revoked entries. */
export const MAX_CRL_PEM_CHARS = 8 * 1024 * 1024;

/** A certificate parsed once for both libraries that need it. */
export interface ParsedCertificate {
  readonly der: Uint8Array<ArrayBuffer>;
  /** @peculiar/x509 view: names, extensions, serial. */
  readonly cert: x509.X509Certificate;
  /** node:crypto view: OpenSSL's own checks (checkIssued, checkPrivateKey, verify). */
  readonly node: NodeX509Certificate;
}

/**
 * Returns the DER of the single PEM block of `type` in `pem`.
 * @throws PkiError `code` when the text is not exactly one such block
 */
export function decodeSinglePem(
  pem: unknown,
  type: string,
  code: PkiErrorCode,
  maxChars: number,
): Uint8Array<ArrayBuffer> {
  if (typeof pem !== "string" || pem.length === 0 || pem.length > maxChars) {
    throw new PkiError(code, `${type} の PEM がありません、または大きすぎます`, { type, maxChars });
  }
  let blocks: x509.PemStruct[];
  try {
    blocks = x509.PemConverter.decodeWithHeaders(pem);
  } catch (cause) {
    throw new PkiError(code, `${type} の PEM を読めません`, { type }, { cause });
  }
  const only = blocks.length === 1 ? blocks[0] : undefined;
  if (only?.type !== type) {
    throw new PkiError(code, `PEM には ${type} がちょうど 1 つだけ必要です`, {
      type,
      found: blocks.map((b) => b.type),
    });
  }
  return new Uint8Array(only.rawData);
}

/**
 * Parses one PEM certificate.
 * @throws PkiError PKI_CERT_INVALID
 */
export function parseCertificatePem(pem: unknown): ParsedCertificate {
  const der = decodeSinglePem(pem, "CERTIFICATE", "PKI_CERT_INVALID", MAX_PEM_CHARS);
  try {
    return { der, cert: new x509.X509Certificate(der), node: new NodeX509Certificate(der) };
  } catch (cause) {
    throw new PkiError("PKI_CERT_INVALID", "証明書を解析できません", {}, { cause });
  }
}

/** Lower-case hex SHA-256 of a certificate's DER: the fingerprint used across the service. */
export async function fingerprintSha256(der: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest("SHA-256", der);
  return Buffer.from(digest).toString("hex");
}
