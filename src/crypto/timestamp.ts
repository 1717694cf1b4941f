/**
 * RFC 3161 time stamps: the built-in time-stamp authority (TSA) that signs TSTInfo for a SHA-256
 * message imprint, and the verification of a time-stamp response (ours or an external TSA's) against
 * the trusted CA. Built on pkijs (CMS SignedData, RFC 5652); the signed attributes are the ones RFC 3161
 * §2.4.2 and RFC 5816 require: content type id-ct-TSTInfo, message digest, and ESS
 * signing-certificate-v2 naming the TSA certificate (OpenSSL's `ts -verify` checks it).
 */
import { createHash, randomBytes, timingSafeEqual, X509Certificate } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { CryptoError } from "./errors.js";

const OID = {
  sha256: "2.16.840.1.101.3.4.2.1",
  signedData: "1.2.840.113549.1.7.2",
  tstInfo: "1.2.840.113549.1.9.16.1.4",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingCertificateV2: "1.2.840.113549.1.9.16.2.47",
} as const;

/**
 * The TSA policy of the built-in authority: an OID under 2.25 (ITU-T X.667, a UUID as an integer), fixed
 * for this software so tokens name the policy they were issued under.
 */
export const BUILTIN_TSA_POLICY = "2.25.247950104151935862356040468493622364389";

/** Largest time-stamp response accepted (ours carry one certificate, about 1.5 KiB). */
export const MAX_TIMESTAMP_BYTES = 64 * 1024;

function engine(): pkijs.ICryptoEngine {
  return new pkijs.CryptoEngine({ name: "node-webcrypto", crypto: globalThis.crypto });
}

/** A copy in its own ArrayBuffer (a Buffer's `.buffer` is often a shared pool, and Buffer#slice is a view). */
const buf = (bytes: Uint8Array): ArrayBuffer => {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
};

/** The TSA's key and certificate (issued by the service CA with extKeyUsage timeStamping, critical). */
export interface TsaIdentity {
  readonly key: CryptoKey;
  readonly certPem: string;
}

/**
 * Issues a time-stamp response (TimeStampResp, status granted) over a SHA-256 digest.
 * @throws CryptoError CRYPTO_TIMESTAMP_INVALID for a digest that is not 32 bytes
 */
export async function issueTimeStamp(
  tsa: TsaIdentity,
  o: { digest: Uint8Array; genTime: Date; serial?: Uint8Array; nonce?: Uint8Array },
): Promise<Uint8Array> {
  if (o.digest.length !== 32) {
    throw new CryptoError("CRYPTO_TIMESTAMP_INVALID", "時刻認証の対象は SHA-256 (32 バイト) です", {});
  }
  const crypto = engine();
  const certDer = new X509Certificate(tsa.certPem).raw;
  const cert = pkijs.Certificate.fromBER(buf(certDer));
  // A positive serial of up to 128 bits (high bit cleared so the INTEGER is not negative), with its
  // leading zero bytes dropped: DER wants the minimal encoding, and openssl refuses a token whose serial
  // starts 00 0x (it did, for about one random serial in 256).
  const raw = Uint8Array.from(o.serial ?? randomBytes(16));
  raw[0] = (raw[0] ?? 0) & 0x7f;
  let start = 0;
  while (start < raw.length - 1 && raw[start] === 0 && (raw[start + 1] ?? 0) < 0x80) start++;
  const serial = raw.subarray(start);
  const tstInfo = new pkijs.TSTInfo({
    version: 1,
    policy: BUILTIN_TSA_POLICY,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID.sha256 }),
      hashedMessage: new asn1js.OctetString({ valueHex: buf(o.digest) }),
    }),
    serialNumber: new asn1js.Integer({ valueHex: buf(serial) }),
    genTime: o.genTime,
    accuracy: new pkijs.Accuracy({ seconds: 1 }),
    ...(o.nonce !== undefined ? { nonce: new asn1js.Integer({ valueHex: buf(o.nonce) }) } : {}),
  });
  const tstDer = tstInfo.toSchema().toBER(false);
  // ESSCertIDv2 with the default hash (SHA-256) omitted: SEQUENCE { SEQUENCE OF { SEQUENCE { certHash } } }.
  const certHash = createHash("sha256").update(certDer).digest();
  const signingCertificateV2 = new asn1js.Sequence({
    value: [
      new asn1js.Sequence({
        value: [new asn1js.Sequence({ value: [new asn1js.OctetString({ valueHex: buf(certHash) })] })],
      }),
    ],
  });
  const signedData = new pkijs.SignedData({
    version: 3,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType: OID.tstInfo,
      eContent: new asn1js.OctetString({ valueHex: tstDer }),
    }),
    certificates: [cert],
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({
          type: 0,
          attributes: [
            new pkijs.Attribute({
              type: OID.contentType,
              values: [new asn1js.ObjectIdentifier({ value: OID.tstInfo })],
            }),
            new pkijs.Attribute({
              type: OID.messageDigest,
              values: [
                new asn1js.OctetString({
                  valueHex: buf(createHash("sha256").update(new Uint8Array(tstDer)).digest()),
                }),
              ],
            }),
            new pkijs.Attribute({ type: OID.signingCertificateV2, values: [signingCertificateV2] }),
          ],
        }),
      }),
    ],
  });
  await signedData.sign(tsa.key, 0, "SHA-256", undefined, crypto);
  const token = new pkijs.ContentInfo({ contentType: OID.signedData, content: signedData.toSchema(true) });
  const response = new pkijs.TimeStampResp({
    status: new pkijs.PKIStatusInfo({ status: pkijs.PKIStatus.granted }),
    timeStampToken: token,
  });
  return new Uint8Array(response.toSchema().toBER(false));
}

export interface VerifiedTimeStamp {
  readonly genTime: Date;
  /** Lower-case hex of the token's serial number. */
  readonly serial: string;
  readonly policy: string;
  /** Subject of the TSA certificate that signed it. */
  readonly tsa: string;
  /** Lower-case hex of the nonce the TSA echoed (RFC 3161 §2.4.2), when there is one. */
  readonly nonce?: string;
}

const bad = (why: string, cause?: unknown): CryptoError =>
  new CryptoError(
    "CRYPTO_TIMESTAMP_INVALID",
    `時刻認証トークンが正しくありません: ${why}`,
    { why },
    { cause },
  );

/** An INTEGER's value as minimal lower-case hex (leading zero bytes dropped), for comparing nonces. */
export function integerHex(bytes: Uint8Array): string {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return Buffer.from(bytes.subarray(i)).toString("hex");
}

/**
 * Verifies a time-stamp response over `data`: status granted, SHA-256 imprint equal, CMS signature
 * valid, TSA certificate issued by the trusted CA with extKeyUsage timeStamping and valid at genTime;
 * with `nonce` (the request's), the token must echo exactly that nonce (RFC 3161 §2.4.2: a reply to
 * another request, replayed or mixed up, is refused).
 * @throws CryptoError CRYPTO_TIMESTAMP_INVALID
 */
export async function verifyTimeStamp(
  response: Uint8Array,
  o: { data: Uint8Array; caPem: string; nonce?: Uint8Array },
): Promise<VerifiedTimeStamp> {
  const digest = new Uint8Array(createHash("sha256").update(o.data).digest());
  if (response.length === 0 || response.length > MAX_TIMESTAMP_BYTES) throw bad("size");
  let resp: pkijs.TimeStampResp;
  let signed: pkijs.SignedData;
  let tst: pkijs.TSTInfo;
  try {
    resp = pkijs.TimeStampResp.fromBER(buf(response));
    if (
      resp.status.status !== pkijs.PKIStatus.granted &&
      resp.status.status !== pkijs.PKIStatus.grantedWithMods
    ) {
      throw bad(`status ${resp.status.status}`);
    }
    if (!resp.timeStampToken || resp.timeStampToken.contentType !== OID.signedData) throw bad("no token");
    signed = new pkijs.SignedData({ schema: resp.timeStampToken.content });
    if (signed.encapContentInfo.eContentType !== OID.tstInfo || !signed.encapContentInfo.eContent)
      throw bad("content");
    tst = pkijs.TSTInfo.fromBER(signed.encapContentInfo.eContent.getValue());
  } catch (error) {
    if (error instanceof CryptoError) throw error;
    throw bad("DER", error);
  }
  const imprint = new Uint8Array(tst.messageImprint.hashedMessage.valueBlock.valueHexView);
  if (
    tst.messageImprint.hashAlgorithm.algorithmId !== OID.sha256 ||
    imprint.length !== digest.length ||
    !timingSafeEqual(imprint, digest)
  ) {
    throw bad("message imprint does not match");
  }
  const nonce = tst.nonce ? integerHex(new Uint8Array(tst.nonce.valueBlock.valueHexView)) : undefined;
  if (o.nonce !== undefined && nonce !== integerHex(o.nonce)) throw bad("nonce does not match the request");
  const ca = pkijs.Certificate.fromBER(buf(new X509Certificate(o.caPem).raw));
  let result: pkijs.SignedDataVerifyResult;
  try {
    result = await signed.verify(
      {
        signer: 0,
        data: buf(o.data),
        trustedCerts: [ca],
        checkChain: true,
        checkDate: tst.genTime,
        extendedMode: true,
      },
      engine(),
    );
  } catch (error) {
    throw bad("signature", error);
  }
  const signer = result.signerCertificate;
  if (result.signatureVerified !== true || !signer) throw bad("signature does not verify");
  const node = new X509Certificate(Buffer.from(signer.toSchema().toBER(false)));
  // RFC 3161 §2.3: the TSA certificate has extKeyUsage timeStamping only (and critical).
  if (node.keyUsage.length !== 1 || node.keyUsage[0] !== "1.3.6.1.5.5.7.3.8")
    throw bad("not a TSA certificate");
  return {
    genTime: tst.genTime,
    serial: Buffer.from(tst.serialNumber.valueBlock.valueHexView).toString("hex"),
    policy: tst.policy,
    tsa: node.subject.replace(/\n/g, ", "),
    ...(nonce !== undefined ? { nonce } : {}),
  };
}
