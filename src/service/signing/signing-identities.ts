/**
 * The node's two signing identities, made on first use and renewed before they expire: the
 * organisation seal (ECDSA P-256, certificate from the service CA with extKeyUsage documentSigning)
 * that signs every sent standard file, and the built-in RFC 3161 time-stamp authority (certificate with
 * extKeyUsage timeStamping, critical). Keys are owner-only PEM files beside the other keys. A renewed
 * certificate does not invalidate earlier signatures: each JWS carries its certificate chain (x5c) and
 * each time-stamp token its TSA certificate.
 */
import { X509Certificate, type KeyObject } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { issueSigningCertificate, type SigningPurpose } from "../../crypto/pki/certificates.js";
import { importSigningKey, parseP256PrivateKey } from "../../crypto/pki/keys.js";
import type { ServiceContext } from "../context.js";
import { listInstitutions } from "../identity/institutions.js";
import { tsaAnchors } from "./tsa-trust-history.js";

/** Most TSA CAs served to (and pinned by) the browser; web/src/signing-trust-pin.ts accepts as many. */
export const MAX_TSA_CAS = 16;

/** Renew this long before notAfter, so a signature is never made in a certificate's last hours. */
const RENEW_BEFORE_MS = 7 * 86_400_000;

export interface SealIdentity {
  readonly key: KeyObject;
  readonly certPem: string;
  /** Leaf first, then the service CA. */
  readonly chainPem: readonly string[];
}

export interface TsaSigningIdentity {
  readonly key: CryptoKey;
  readonly certPem: string;
  readonly subject: string;
}

/**
 * Issuances in flight, per key file: concurrent first uses (a burst of sends on a fresh node) share one
 * issuance instead of racing on the same `.new` file (the loser's rename failed with ENOENT: a 500).
 */
const issuing = new Map<string, Promise<{ keyPem: string; certPem: string }>>();

function loadOrIssue(
  ctx: ServiceContext,
  purpose: SigningPurpose,
): Promise<{ keyPem: string; certPem: string }> {
  const keyPath = purpose === "seal" ? ctx.paths.sealKey : ctx.paths.tsaKey;
  const running = issuing.get(keyPath);
  if (running !== undefined) return running;
  const started = loadOrIssueOnce(ctx, purpose).finally(() => issuing.delete(keyPath));
  issuing.set(keyPath, started);
  return started;
}

async function loadOrIssueOnce(
  ctx: ServiceContext,
  purpose: SigningPurpose,
): Promise<{ keyPem: string; certPem: string }> {
  const [keyPath, certPath] =
    purpose === "seal" ? [ctx.paths.sealKey, ctx.paths.sealCert] : [ctx.paths.tsaKey, ctx.paths.tsaCert];
  if (existsSync(keyPath) && existsSync(certPath)) {
    const [keyPem, certPem] = await Promise.all([readFile(keyPath, "utf8"), readFile(certPath, "utf8")]);
    const notAfter = new Date(new X509Certificate(certPem).validTo).getTime();
    if (notAfter - ctx.now().getTime() > RENEW_BEFORE_MS) return { keyPem, certPem };
  }
  const office = listInstitutions(ctx).find((i) => i.kind === "office");
  const issued = await issueSigningCertificate(ctx.ca, {
    purpose,
    organizationName: office?.name ?? "kenshin-exchange",
    commonName: `kenshin-exchange ${purpose === "seal" ? "seal" : "TSA"} ${ctx.config.nodeName}`,
    now: ctx.now(),
    validityDays: ctx.config.certificates.serverValidityDays,
  });
  // Key first, then certificate, each written aside and renamed, so a crash never pairs a new
  // certificate with an old key.
  await writeFile(`${keyPath}.new`, issued.keyPem, { mode: 0o600 });
  await rename(`${keyPath}.new`, keyPath);
  await writeFile(`${certPath}.new`, issued.certPem, { mode: 0o644 });
  await rename(`${certPath}.new`, certPath);
  return { keyPem: issued.keyPem, certPem: issued.certPem };
}

/** The organisation seal of this node. */
export async function sealIdentity(ctx: ServiceContext): Promise<SealIdentity> {
  const { keyPem, certPem } = await loadOrIssue(ctx, "seal");
  return { key: parseP256PrivateKey(keyPem).keyObject, certPem, chainPem: [certPem, ctx.ca.certPem] };
}

/** The built-in TSA of this node. */
export async function tsaIdentity(ctx: ServiceContext): Promise<TsaSigningIdentity> {
  const { keyPem, certPem } = await loadOrIssue(ctx, "tsa");
  return {
    key: await importSigningKey(parseP256PrivateKey(keyPem)),
    certPem,
    subject: new X509Certificate(certPem).subject.replace(/\n/g, ", "),
  };
}

/** The trust anchors of seals and time stamps, as the browser pins them (PEM). */
export interface SigningTrust {
  /** The CA that issues the organisation seal certificate (the service CA). */
  readonly sealCa: string;
  /** CAs whose TSA certificates (EKU timeStamping) are trusted: the service CA and an external TSA's. */
  readonly tsaCas: readonly string[];
}

/**
 * The service CA first, then the configured external TSA's CA and every earlier one this node stamped
 * under (tsa-trust-history.ts), so a pinned browser can still check tokens made before a rotation.
 */
export function signingTrust(ctx: ServiceContext): SigningTrust {
  const norm = (pem: string) => `${pem.trim()}\n`;
  const tsaCas = [norm(ctx.ca.certPem)];
  for (const { pem } of tsaAnchors(ctx)) if (!tsaCas.includes(norm(pem))) tsaCas.push(norm(pem));
  return { sealCa: norm(ctx.ca.certPem), tsaCas: tsaCas.slice(0, MAX_TSA_CAS) };
}
