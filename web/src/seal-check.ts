/**
 * Verifies a seal entry (S1–S2) in the browser, against the pinned trust anchors (signing-trust-pin.ts),
 * never against what the service just served:
 * - the RFC 3161 time-stamp token over the JWS text: status granted, SHA-256 message imprint, CMS
 *   signature, the TSA certificate chained to a pinned TSA CA with extKeyUsage timeStamping only, valid
 *   at genTime (pkijs over WebCrypto);
 * - the detached JWS (RFC 7515 + RFC 7797, ES256) over the file's exact bytes, when the file is at hand
 *   (the 検証 page): strict header, `kid` = SHA-256 of the x5c leaf, the leaf issued by the pinned seal
 *   CA and valid when it was time-stamped, the ECDSA signature over ASCII(header) ‖ "." ‖ bytes.
 * Never throws: every failure is a `failed` status with a short reason.
 */
import type * as PkijsModule from "pkijs";
import type { OperationRecord } from "../../src/ledger/entry/operation-record.js";
import type { SigningTrustAnchors } from "./signing-trust-pin.js";

type SealRecord = Extract<OperationRecord, { type: "seal" }>;

export type CheckStatus = "verified" | "failed" | "not-checked";

export interface SealCheck {
  /** The JWS over the file: `not-checked` without the file's bytes. */
  readonly signature: CheckStatus;
  /** The signer's certificate: from the pinned seal CA and valid at the stamped time (no file needed). */
  readonly signerCertificate?: CheckStatus;
  /** The signer certificate's subject (CN / O), once its chain to the pinned CA verified. */
  readonly signer?: string;
  /** The RFC 3161 token over the JWS. */
  readonly stamp: CheckStatus;
  /** genTime of a verified token (ISO 8601). */
  readonly stampTime?: string;
  /** The TSA certificate's subject. */
  readonly tsa?: string;
  /** Why a check failed (for the details). */
  readonly why?: string;
}

/** Files larger than this are not held in memory to check their signature (the hash check still runs). */
export const MAX_SIGNED_BYTES = 512 * 1024 * 1024;

const OID = {
  sha256: "2.16.840.1.101.3.4.2.1",
  signedData: "1.2.840.113549.1.7.2",
  tstInfo: "1.2.840.113549.1.9.16.1.4",
  timeStamping: "1.3.6.1.5.5.7.3.8",
  extKeyUsage: "2.5.29.37",
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
} as const;

type Pkijs = typeof PkijsModule;

const fromB64 = (text: string): Uint8Array => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const fromB64url = (text: string): Uint8Array =>
  fromB64(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
const hex = (bytes: Uint8Array): string => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
const buf = (bytes: Uint8Array): ArrayBuffer => {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
};

function pemToDer(pem: string): Uint8Array {
  const body = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem)?.[1];
  if (body === undefined) throw new Error("pinned certificate");
  return fromB64(body.replace(/\s+/g, ""));
}

let loaded: Promise<Pkijs> | undefined;
/** pkijs is loaded only when a seal is checked (it is large and most pages never need it). */
function pkijsLibrary(): Promise<Pkijs> {
  loaded ??= import("pkijs");
  return loaded;
}

function subjectOf(cert: InstanceType<Pkijs["Certificate"]>): string {
  const pick = (oid: string) =>
    cert.subject.typesAndValues
      .filter((tv) => tv.type === oid)
      .map((tv) => {
        const value = (tv.value.valueBlock as { value?: unknown }).value;
        return typeof value === "string" ? value : "";
      });
  return [...pick(OID.organization), ...pick(OID.commonName)].join(" / ");
}

function extendedKeyUsages(cert: InstanceType<Pkijs["Certificate"]>): string[] | undefined {
  const ext = cert.extensions?.find((e) => e.extnID === OID.extKeyUsage);
  if (!ext) return undefined;
  const parsed = ext.parsedValue as InstanceType<Pkijs["ExtKeyUsage"]> | undefined;
  return parsed?.keyPurposes;
}

function engine(p: Pkijs): InstanceType<Pkijs["CryptoEngine"]> {
  return new p.CryptoEngine({ name: "browser", crypto: globalThis.crypto });
}

/** The token over `data` (the JWS text, or a checkpoint's note); returns genTime and the TSA's subject. */
async function checkStamp(
  p: Pkijs,
  token: Uint8Array,
  data: Uint8Array,
  anchors: readonly Uint8Array[],
): Promise<{ time: Date; tsa: string }> {
  const resp = p.TimeStampResp.fromBER(buf(token));
  const status = resp.status.status;
  if (status !== p.PKIStatus.granted && status !== p.PKIStatus.grantedWithMods) throw new Error("status");
  if (!resp.timeStampToken || resp.timeStampToken.contentType !== OID.signedData) throw new Error("token");
  const signed = new p.SignedData({ schema: resp.timeStampToken.content });
  const eContent = signed.encapContentInfo.eContent;
  if (signed.encapContentInfo.eContentType !== OID.tstInfo || !eContent) throw new Error("content");
  const tst = p.TSTInfo.fromBER(eContent.getValue());
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", buf(data)));
  const imprint = new Uint8Array(tst.messageImprint.hashedMessage.valueBlock.valueHexView);
  if (tst.messageImprint.hashAlgorithm.algorithmId !== OID.sha256 || hex(imprint) !== hex(digest))
    throw new Error("imprint");
  const trustedCerts = anchors.map((der) => p.Certificate.fromBER(buf(der)));
  const result = await signed.verify(
    {
      signer: 0,
      data: buf(data),
      trustedCerts,
      checkChain: true,
      checkDate: tst.genTime,
      extendedMode: true,
    },
    engine(p),
  );
  const signer = result.signerCertificate;
  if (result.signatureVerified !== true || !signer) throw new Error("token signature");
  // RFC 3161 §2.3: the TSA certificate's extKeyUsage is timeStamping alone.
  const eku = extendedKeyUsages(signer);
  if (eku?.length !== 1 || eku[0] !== OID.timeStamping) throw new Error("not a TSA certificate");
  return { time: tst.genTime, tsa: subjectOf(signer) };
}

interface Header {
  alg: unknown;
  b64: unknown;
  crit: unknown;
  kid: unknown;
  x5c: unknown;
  iat?: unknown;
}

/**
 * The JWS header and the signer's certificate: strict header, `kid` = SHA-256 of the x5c leaf, the
 * leaf issued by the pinned seal CA and valid at `at`. Returns the leaf.
 */
async function checkSigner(
  p: Pkijs,
  jws: string,
  sealCa: Uint8Array,
  at: Date,
): Promise<InstanceType<Pkijs["Certificate"]>> {
  const parts = jws.split(".");
  if (parts.length !== 3 || parts[1] !== "") throw new Error("not a detached JWS");
  const [head = ""] = parts;
  const header = JSON.parse(new TextDecoder().decode(fromB64url(head))) as Header;
  const allowed = new Set(["alg", "b64", "crit", "kid", "x5c", "iat"]);
  if (Object.keys(header).some((k) => !allowed.has(k))) throw new Error("header members");
  if (header.alg !== "ES256" || header.b64 !== false) throw new Error("alg/b64");
  if (!Array.isArray(header.crit) || header.crit.length !== 1 || header.crit[0] !== "b64")
    throw new Error("crit");
  if (!Array.isArray(header.x5c) || typeof header.x5c[0] !== "string") throw new Error("x5c");
  const leafDer = fromB64(header.x5c[0]);
  const leafHash = hex(new Uint8Array(await crypto.subtle.digest("SHA-256", buf(leafDer))));
  if (header.kid !== leafHash) throw new Error("kid");
  const leaf = p.Certificate.fromBER(buf(leafDer));
  const ca = p.Certificate.fromBER(buf(sealCa));
  // The leaf was issued by the pinned CA (issuer name and signature) and was valid when stamped.
  if (!leaf.issuer.isEqual(ca.subject)) throw new Error("issuer");
  if (!(await leaf.verify(ca, engine(p)))) throw new Error("certificate signature");
  if (at < leaf.notBefore.value || at > leaf.notAfter.value) throw new Error("certificate validity");
  return leaf;
}

/** The JWS over the file's bytes; returns the signer's subject. */
async function checkJws(
  p: Pkijs,
  jws: string,
  bytes: Uint8Array,
  sealCa: Uint8Array,
  at: Date,
): Promise<string> {
  const leaf = await checkSigner(p, jws, sealCa, at);
  const [head = "", , sig = ""] = jws.split(".");
  const key = await crypto.subtle.importKey(
    "spki",
    leaf.subjectPublicKeyInfo.toSchema().toBER(false),
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["verify"],
  );
  const prefix = new TextEncoder().encode(`${head}.`);
  const input = new Uint8Array(prefix.length + bytes.length);
  input.set(prefix);
  input.set(bytes, prefix.length);
  const signature = fromB64url(sig);
  if (signature.length !== 64) throw new Error("signature length");
  const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, buf(signature), input);
  if (!ok) throw new Error("signature does not match the file");
  return subjectOf(leaf);
}

/**
 * Checks one seal entry against the pinned anchors; with `bytes` (the file as the user has it) also
 * its signature. The token is checked first: its genTime is the time the signer's certificate must
 * have been valid at.
 */
export async function checkSeal(
  seal: Pick<SealRecord, "jws" | "timestamp">,
  anchors: SigningTrustAnchors,
  bytes?: Uint8Array,
): Promise<SealCheck> {
  let p: Pkijs;
  try {
    p = await pkijsLibrary();
  } catch {
    return { signature: "failed", stamp: "failed", why: "verifier unavailable" };
  }
  let stamp: { time: Date; tsa: string };
  try {
    stamp = await checkStamp(
      p,
      fromB64(seal.timestamp.token),
      new TextEncoder().encode(seal.jws),
      anchors.tsaCas.map(pemToDer),
    );
  } catch (error) {
    return {
      signature: bytes === undefined ? "not-checked" : "failed",
      stamp: "failed",
      why: `time stamp: ${(error as Error).message}`,
    };
  }
  const stamped = { stamp: "verified" as const, stampTime: stamp.time.toISOString(), tsa: stamp.tsa };
  if (bytes === undefined) {
    // Without the file, the signer is still checked: its certificate, from the pinned CA, valid then.
    try {
      const leaf = await checkSigner(p, seal.jws, pemToDer(anchors.sealCa), stamp.time);
      return { signature: "not-checked", signerCertificate: "verified", signer: subjectOf(leaf), ...stamped };
    } catch (error) {
      return {
        signature: "not-checked",
        signerCertificate: "failed",
        ...stamped,
        why: `signer: ${(error as Error).message}`,
      };
    }
  }
  if (bytes.length > MAX_SIGNED_BYTES) return { signature: "not-checked", ...stamped, why: "file too large" };
  try {
    const signer = await checkJws(p, seal.jws, bytes, pemToDer(anchors.sealCa), stamp.time);
    return { signature: "verified", signerCertificate: "verified", signer, ...stamped };
  } catch (error) {
    return { signature: "failed", ...stamped, why: `signature: ${(error as Error).message}` };
  }
}

/**
 * An RFC 3161 token over arbitrary bytes (a checkpoint's note text) against the pinned TSA CAs; never
 * throws.
 */
export async function checkTimeStampOver(
  token: Uint8Array,
  data: Uint8Array,
  anchors: SigningTrustAnchors,
): Promise<{ readonly status: CheckStatus; readonly time?: string; readonly tsa?: string }> {
  try {
    const p = await pkijsLibrary();
    const v = await checkStamp(p, token, data, anchors.tsaCas.map(pemToDer));
    return { status: "verified", time: v.time.toISOString(), tsa: v.tsa };
  } catch {
    return { status: "failed" };
  }
}

export { fromB64 as base64ToBytes };
