/**
 * PKCS#12 (RFC 7292) files for importing a client certificate into a browser or OS store.
 *
 * Protection, as OpenSSL 3 writes by default and as RFC 9579 / NIST SP 800-132 recommend instead of the
 * legacy RC2/3DES-with-SHA-1 schemes (which OpenSSL 3 no longer reads without the legacy provider):
 * - the key: PKCS8ShroudedKeyBag, PBES2 (RFC 8018 §6.2) with PBKDF2-HMAC-SHA256 and AES-256-CBC;
 * - the certificates: an EncryptedData SafeContents with the same PBES2 parameters;
 * - integrity: MacData HMAC-SHA256 with the RFC 7292 Appendix B key derivation.
 * The tests check that OpenSSL 3, NSS (Firefox; Chromium on Linux) and Node read it. Windows 10/11
 * import PBES2/AES-256 files (Windows itself exports "AES256-SHA256" PFX since 10 1709 / Server 2019);
 * Windows 7/8.1 and some macOS Keychain versions do not, and would need the legacy 3DES/SHA-1 form, which
 * is deliberately not offered. The leaf and the CA certificate are both included, so that an import on
 * Windows also offers to trust the CA (Chrome and Edge use the Windows store to accept the server).
 *
 * Built with pkijs (by the authors of @peculiar/x509) over node's WebCrypto, in memory: no temporary
 * files and no child process that could leak the password through argv or the environment.
 */
import { createHash } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { PkiError } from "./errors.js";
import { parseP256PrivateKey } from "./keys.js";
import { parseCertificatePem } from "./pem.js";

/**
 * PBKDF2 and MAC iterations. The MAC key derivation is as cheap to attack as PBKDF2, so both use the
 * same count; 100 000 costs about 0.1 s per export here and is what Windows and NSS import without
 * complaint (OpenSSL's own default is 2048).
 */
export const PKCS12_ITERATIONS = 100_000;
/** Longest password taken, in characters. */
export const MAX_PKCS12_PASSWORD_CHARS = 256;

const OID_FRIENDLY_NAME = "1.2.840.113549.1.9.20"; // PKCS#9 friendlyName, RFC 2985 §5.5.1
const OID_LOCAL_KEY_ID = "1.2.840.113549.1.9.21"; // PKCS#9 localKeyId, RFC 2985 §5.5.2
const OID_KEY_BAG_SHROUDED = "1.2.840.113549.1.12.10.1.2"; // RFC 7292 §4.2.2
const OID_CERT_BAG = "1.2.840.113549.1.12.10.1.3"; // RFC 7292 §4.2.3
const OID_X509_CERTIFICATE = "1.2.840.113549.1.9.22.1"; // RFC 7292 §4.2.3 x509Certificate

// pkijs types the content algorithm as AesCbcParams, which includes the IV, but it draws a fresh random
// IV for each encryption itself (CryptoEngine.encryptEncryptedContentInfo) and only reads name and length.
const AES_256_CBC = {
  name: "AES-CBC",
  length: 256,
} as pkijs.ContentEncryptionAlgorithm;
const PBES2_AES256_SHA256 = {
  contentEncryptionAlgorithm: AES_256_CBC,
  hmacHashAlgorithm: "SHA-256",
  iterationCount: PKCS12_ITERATIONS,
};

/**
 * Builds a password-protected PKCS#12 holding the key, its certificate and the CA certificate. The key
 * and its certificate carry the same friendlyName (shown by certmgr and Firefox) and localKeyId.
 * @throws PkiError PKI_PASSWORD_INVALID, PKI_OPTION_INVALID, PKI_CERT_INVALID, PKI_KEY_INVALID,
 *   PKI_KEY_MISMATCH, PKI_ISSUER_MISMATCH
 */
export async function exportPkcs12(o: {
  certPem: string;
  keyPem: string;
  caCertPem: string;
  password: string;
  friendlyName: string;
}): Promise<Buffer> {
  const password = checkedPassword(o.password);
  const friendlyName = checkedFriendlyName(o.friendlyName);
  const leaf = parseCertificatePem(o.certPem);
  const ca = parseCertificatePem(o.caCertPem);
  const key = parseP256PrivateKey(o.keyPem);
  if (!leaf.node.checkPrivateKey(key.keyObject)) {
    throw new PkiError("PKI_KEY_MISMATCH", "秘密鍵が証明書と対応していません");
  }
  if (!leaf.node.checkIssued(ca.node) || !leaf.node.verify(ca.node.publicKey)) {
    throw new PkiError("PKI_ISSUER_MISMATCH", "証明書がこの CA によって発行されていません");
  }

  const engine = new pkijs.CryptoEngine({ name: "node-webcrypto", crypto: globalThis.crypto });
  const localKeyId = createHash("sha256").update(leaf.der).digest();
  const attributes = [
    new pkijs.Attribute({ type: OID_FRIENDLY_NAME, values: [new asn1js.BmpString({ value: friendlyName })] }),
    new pkijs.Attribute({
      type: OID_LOCAL_KEY_ID,
      values: [new asn1js.OctetString({ valueHex: localKeyId })],
    }),
  ];
  const keyBag = new pkijs.PKCS8ShroudedKeyBag({ parsedValue: pkijs.PrivateKeyInfo.fromBER(key.pkcs8Der) });
  await keyBag.makeInternalValues({ password, ...PBES2_AES256_SHA256 }, engine);

  // RFC 7292 §5.1: the AuthenticatedSafe holds one password-encrypted SafeContents (the certificates,
  // as EncryptedData) and one plain SafeContents whose only bag, the key, is already shrouded; a second
  // encryption layer over it would add nothing.
  const authenticatedSafe = new pkijs.AuthenticatedSafe({
    parsedValue: {
      safeContents: [
        {
          privacyMode: 1,
          value: new pkijs.SafeContents({ safeBags: [certBag(leaf.der, attributes), certBag(ca.der, [])] }),
        },
        {
          privacyMode: 0,
          value: new pkijs.SafeContents({
            safeBags: [
              new pkijs.SafeBag({ bagId: OID_KEY_BAG_SHROUDED, bagValue: keyBag, bagAttributes: attributes }),
            ],
          }),
        },
      ],
    },
  });
  await authenticatedSafe.makeInternalValues(
    { safeContents: [{ password, ...PBES2_AES256_SHA256 }, {}] },
    engine,
  );
  // integrityMode 0 = password integrity: MacData over the AuthenticatedSafe (RFC 7292 §4).
  const pfx = new pkijs.PFX({ parsedValue: { integrityMode: 0, authenticatedSafe } });
  await pfx.makeInternalValues(
    {
      password,
      iterations: PKCS12_ITERATIONS,
      pbkdf2HashAlgorithm: { name: "SHA-256" },
      hmacHashAlgorithm: "SHA-256",
    },
    engine,
  );
  return Buffer.from(pfx.toSchema().toBER(false));
}

// The certificate goes in as its original DER: pkijs would re-encode a parsed Certificate, and any
// difference in encoding would break the CA's signature over it.
function certBag(der: Uint8Array, bagAttributes: pkijs.Attribute[]): pkijs.SafeBag {
  const bagValue = new pkijs.CertBag({
    certId: OID_X509_CERTIFICATE,
    certValue: new asn1js.OctetString({ valueHex: der }),
  });
  return new pkijs.SafeBag({
    bagId: OID_CERT_BAG,
    bagValue,
    ...(bagAttributes.length > 0 ? { bagAttributes } : {}),
  });
}

/**
 * The password as UTF-8 bytes. PBES2 takes it as an octet string and OpenSSL 3, NSS and Windows all use
 * UTF-8 there; the MAC key derivation takes it as a BMPString (RFC 7292 Appendix B.1), which cannot hold
 * characters beyond U+FFFF, so those are refused rather than encoded differently by each reader.
 */
function checkedPassword(password: unknown): ArrayBuffer {
  if (
    typeof password !== "string" ||
    password.length === 0 ||
    password.length > MAX_PKCS12_PASSWORD_CHARS ||
    password.includes("\u0000") ||
    /[\uD800-\uDFFF]/.test(password)
  ) {
    throw new PkiError(
      "PKI_PASSWORD_INVALID",
      `PKCS#12 のパスワードは 1〜${MAX_PKCS12_PASSWORD_CHARS} 文字 (絵文字などの補助文字と NUL を除く) です`,
    );
  }
  const bytes = Buffer.from(password, "utf8");
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

function checkedFriendlyName(name: unknown): string {
  if (typeof name !== "string" || name.length === 0 || name.length > 64 || /[\p{Cc}\p{Cs}]/u.test(name)) {
    throw new PkiError("PKI_OPTION_INVALID", "friendlyName は制御文字を含まない 1〜64 文字です", {
      field: "friendlyName",
    });
  }
  return name;
}
