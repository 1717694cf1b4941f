/**
 * ECDSA P-256 keys (FIPS 186-5, SEC 2 secp256r1) with SHA-256 signatures: the curve listed in
 * CRYPTREC's e-Government recommended ciphers and the one every browser's client-certificate store
 * handles. Private keys leave this module only as unencrypted PKCS#8 PEM (RFC 5208 / RFC 5958
 * "PRIVATE KEY"); protecting those files at rest is the caller's job (owner-only permissions, KEK).
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import { PkiError } from "./errors.js";
import { decodeSinglePem, MAX_PEM_CHARS } from "./pem.js";
import { x509 } from "./x509-provider.js";

/** WebCrypto parameters of the only key type this CA issues and signs with. */
export const P256_KEY_ALGORITHM: EcKeyImportParams = { name: "ECDSA", namedCurve: "P-256" };
/** ecdsa-with-SHA256 (RFC 5758 §3.2), the signature on every certificate and CRL we make. */
export const ECDSA_SHA256: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };

/** A fresh P-256 key pair; the private half is extractable once so that it can be written as PEM. */
export async function generateP256KeyPair(): Promise<CryptoKeyPair> {
  return globalThis.crypto.subtle.generateKey(P256_KEY_ALGORITHM, true, ["sign", "verify"]);
}

/** PKCS#8 PEM of a private key. */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  const der = await globalThis.crypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

/** A private key read from PEM: node's handle (for OpenSSL checks) and its PKCS#8 DER. */
export interface ParsedPrivateKey {
  readonly keyObject: KeyObject;
  readonly pkcs8Der: Uint8Array<ArrayBuffer>;
}

/**
 * Reads an unencrypted P-256 private key, PKCS#8 ("PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY", RFC 5915),
 * and normalises it to PKCS#8.
 * @throws PkiError PKI_KEY_INVALID for anything else, including encrypted keys (no passphrase is taken)
 */
export function parseP256PrivateKey(pem: unknown): ParsedPrivateKey {
  if (typeof pem !== "string" || pem.length === 0 || pem.length > MAX_PEM_CHARS) {
    throw new PkiError("PKI_KEY_INVALID", "秘密鍵の PEM がありません、または大きすぎます");
  }
  const label = /-----BEGIN ([A-Z ]+)-----/.exec(pem)?.[1];
  if (label !== "PRIVATE KEY" && label !== "EC PRIVATE KEY") {
    throw new PkiError("PKI_KEY_INVALID", "秘密鍵の PEM ではありません (暗号化された鍵は受け付けません)", {
      label,
    });
  }
  // Exactly one block of that label: a second key appended to the file must not go unnoticed.
  decodeSinglePem(pem, label, "PKI_KEY_INVALID", MAX_PEM_CHARS);
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: pem, format: "pem" });
  } catch (cause) {
    throw new PkiError("PKI_KEY_INVALID", "秘密鍵を読めません", {}, { cause });
  }
  const curve = keyObject.asymmetricKeyDetails?.namedCurve;
  if (keyObject.asymmetricKeyType !== "ec" || curve !== "prime256v1") {
    throw new PkiError("PKI_KEY_INVALID", "秘密鍵は ECDSA P-256 でなければなりません", {
      keyType: keyObject.asymmetricKeyType,
      curve,
    });
  }
  return { keyObject, pkcs8Der: new Uint8Array(keyObject.export({ type: "pkcs8", format: "der" })) };
}

/**
 * Imports a P-256 private key for signing certificates and CRLs, non-extractable.
 * @throws PkiError PKI_KEY_INVALID
 */
export async function importSigningKey(parsed: ParsedPrivateKey): Promise<CryptoKey> {
  try {
    return await globalThis.crypto.subtle.importKey("pkcs8", parsed.pkcs8Der, P256_KEY_ALGORITHM, false, [
      "sign",
    ]);
  } catch (cause) {
    throw new PkiError("PKI_KEY_INVALID", "秘密鍵を署名用に読み込めません", {}, { cause });
  }
}
