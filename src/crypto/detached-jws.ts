/**
 * Detached JWS with an unencoded payload: RFC 7515 (JWS, App. F "detached content") with RFC 7797
 * (`b64: false`, listed in `crit`), ES256 (ECDSA P-256 + SHA-256, signature as R‖S, RFC 7518 §3.4).
 * The signing input is ASCII(BASE64URL(header)) ‖ "." ‖ the payload's exact bytes, so a file of any size
 * is signed as it is stored, never re-encoded. The certificate chain travels in `x5c` (RFC 7515 §4.1.6);
 * verification checks the signature with the leaf key, the leaf against the trusted CA, and the leaf's
 * validity at the signing time.
 */
import { createHash, createSign, verify, X509Certificate, type KeyObject, type Sign } from "node:crypto";
import { CryptoError } from "./errors.js";

export interface JwsHeader {
  readonly alg: "ES256";
  readonly b64: false;
  readonly crit: readonly ["b64"];
  readonly kid: string;
  /** Base64 (not URL-safe) DER certificates, leaf first. */
  readonly x5c: readonly string[];
  /** Signing time claimed by the signer, NumericDate (informative; the RFC 3161 token proves it). */
  readonly iat?: number;
}

/** Largest compact JWS accepted (the header carries two certificates). */
export const MAX_JWS_CHARS = 16 * 1024;

const b64url = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString("base64url");

function signingInput(protectedHeader: string, payload: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${protectedHeader}.`, "ascii"), payload]);
}

/** Signs `payload` and returns the compact serialisation with the payload detached: `header..signature`. */
export function signDetachedJws(o: {
  payload: Uint8Array;
  key: KeyObject;
  /** PEM certificates, leaf first. */
  chainPem: readonly string[];
  now: Date;
}): string {
  const signer = new DetachedJwsSigner(o);
  signer.update(o.payload);
  return signer.finish();
}

/**
 * The same JWS as {@link signDetachedJws} for a payload given piece by piece (a stored file read chunk
 * by chunk, never held whole): the signing input is hashed as it goes by.
 */
export class DetachedJwsSigner {
  readonly #protectedHeader: string;
  readonly #key: KeyObject;
  readonly #sign: Sign;

  constructor(o: { key: KeyObject; chainPem: readonly string[]; now: Date }) {
    const chain = o.chainPem.map((pem) => new X509Certificate(pem).raw);
    const leaf = chain[0];
    if (leaf === undefined) throw invalid("no certificate");
    const header: JwsHeader = {
      alg: "ES256",
      b64: false,
      crit: ["b64"],
      // The kid is the SHA-256 of the signer's certificate, so it names exactly one certificate.
      kid: createHash("sha256").update(leaf).digest("hex"),
      x5c: chain.map((der) => Buffer.from(der).toString("base64")),
      iat: Math.floor(o.now.getTime() / 1000),
    };
    this.#protectedHeader = b64url(JSON.stringify(header));
    this.#key = o.key;
    this.#sign = createSign("sha256");
    this.#sign.update(`${this.#protectedHeader}.`, "ascii");
  }

  /** The next bytes of the payload. */
  update(piece: Uint8Array): void {
    this.#sign.update(piece);
  }

  /** The compact serialisation with the payload detached (once, after the last piece). */
  finish(): string {
    const signature = this.#sign.sign({ key: this.#key, dsaEncoding: "ieee-p1363" });
    return `${this.#protectedHeader}..${b64url(signature)}`;
  }
}

export interface VerifiedJws {
  readonly header: JwsHeader;
  /** The signer's certificate subject (RFC 2253-like, as node prints it). */
  readonly subject: string;
  /** SHA-256 of the signer certificate's DER, lower-case hex. */
  readonly certificateSha256: string;
  readonly signedAt: Date | undefined;
}

const invalid = (why: string): CryptoError =>
  new CryptoError("CRYPTO_JWS_INVALID", `署名 (JWS) が正しくありません: ${why}`, { why });

/** Strict header parse: exactly the members we sign with. */
function parseHeader(part: string): JwsHeader {
  if (!/^[A-Za-z0-9_-]{1,16000}$/.test(part)) throw invalid("header");
  let h: unknown;
  try {
    h = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    throw invalid("header JSON");
  }
  const o = h as Partial<Record<keyof JwsHeader, unknown>>;
  const allowed = new Set(["alg", "b64", "crit", "kid", "x5c", "iat"]);
  if (typeof h !== "object" || h === null || Object.keys(h).some((k) => !allowed.has(k)))
    throw invalid("header members");
  if (o.alg !== "ES256") throw invalid("alg");
  // RFC 7797 §6: b64 must be understood, so it is listed in crit.
  if (o.b64 !== false || !Array.isArray(o.crit) || o.crit.length !== 1 || o.crit[0] !== "b64")
    throw invalid("b64/crit");
  if (typeof o.kid !== "string" || o.kid.length > 200) throw invalid("kid");
  if (
    !Array.isArray(o.x5c) ||
    o.x5c.length < 1 ||
    o.x5c.length > 4 ||
    o.x5c.some((c) => typeof c !== "string")
  ) {
    throw invalid("x5c");
  }
  if (o.iat !== undefined && !Number.isSafeInteger(o.iat)) throw invalid("iat");
  return h as JwsHeader;
}

/**
 * Verifies a detached compact JWS over `payload` against the trusted CA.
 * @throws CryptoError CRYPTO_JWS_INVALID (malformed or a signature that does not verify),
 *   CRYPTO_JWS_UNTRUSTED (signer not issued by the CA, or not valid when it signed)
 */
export function verifyDetachedJws(jws: string, payload: Uint8Array, o: { caPem: string }): VerifiedJws {
  if (typeof jws !== "string" || jws.length > MAX_JWS_CHARS) throw invalid("size");
  const parts = jws.split(".");
  if (parts.length !== 3 || parts[1] !== "") throw invalid("not a detached compact JWS");
  const [protectedHeader = "", , sig = ""] = parts;
  const header = parseHeader(protectedHeader);
  if (!/^[A-Za-z0-9_-]{86}$/.test(sig)) throw invalid("signature length");
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(Buffer.from(header.x5c[0] as string, "base64"));
  } catch {
    throw invalid("x5c certificate");
  }
  const ok = verify(
    "sha256",
    signingInput(protectedHeader, payload),
    { key: leaf.publicKey, dsaEncoding: "ieee-p1363" },
    Buffer.from(sig, "base64url"),
  );
  if (!ok) throw invalid("signature does not verify");
  const ca = new X509Certificate(o.caPem);
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) {
    throw new CryptoError(
      "CRYPTO_JWS_UNTRUSTED",
      "署名者の証明書がこのサービスの CA のものではありません",
      {},
    );
  }
  const signedAt = header.iat === undefined ? undefined : new Date(header.iat * 1000);
  const at = signedAt ?? new Date();
  if (at < new Date(leaf.validFrom) || at > new Date(leaf.validTo)) {
    throw new CryptoError("CRYPTO_JWS_UNTRUSTED", "署名時に署名者の証明書が有効ではありません", {});
  }
  const certificateSha256 = createHash("sha256").update(leaf.raw).digest("hex");
  // The kid names the certificate (its SHA-256; not a secret): a header naming another one is refused.
  if (header.kid !== certificateSha256) throw invalid("kid does not name the x5c certificate");
  return { header, subject: leaf.subject.replace(/\n/g, ", "), certificateSha256, signedAt };
}
