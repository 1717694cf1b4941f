/**
 * AES-256-GCM (NIST SP 800-38D) sealing and opening with a caller's key and nonce, as both the data-key
 * wrapping (`data-keys.ts`) and the payload chunks at rest (`store/payload-store.ts`,
 * `store/payload-spool.ts`) use it: ciphertext ‖ 16-byte tag, the tag checked before any plaintext
 * is returned.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";

/** Bytes of a GCM nonce (the 96-bit size SP 800-38D recommends). */
export const NONCE_BYTES = 12;
/** Bytes of a GCM tag (the full 128 bits). */
export const TAG_BYTES = 16;

/** AES-256-GCM seal: ciphertext ‖ 16-byte tag. */
export function aesGcmSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Buffer {
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** AES-256-GCM open of ciphertext ‖ tag; undefined when authentication fails. */
export function aesGcmOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Buffer | undefined {
  if (nonce.length !== NONCE_BYTES || sealed.length < TAG_BYTES) return undefined;
  const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  const body = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([body, decipher.final()]);
  } catch {
    body.fill(0);
    return undefined;
  }
}
