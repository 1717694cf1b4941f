/**
 * Data keys and the key-encryption key (KEK) for payloads at rest.
 *
 * Every transfer gets a fresh 256-bit data key (DEK); the DEK is stored only wrapped by the node's KEK,
 * which lives in `keys/kek.key` outside the database (its file, loading and rotation: `kek-file.ts`). A
 * copy of the database alone therefore cannot decrypt anything, and destroying the KEK (or one wrapped
 * DEK) crypto-shreds what it protected.
 *
 * Wrapping is AES-256-GCM (NIST SP 800-38D, `aes-gcm.ts`) with a random 96-bit nonce, bound to the
 * transfer by the associated data `"kenshin-dek/v1" ‖ 0x00 ‖ transferId`, so a wrapped key copied onto
 * another transfer's row does not unwrap. Random nonces are safe up to 2^32 wraps per KEK (SP 800-38D
 * §8.3); a node wraps one key per transfer and gets a new KEK at each rotation.
 */
import { createHash } from "node:crypto";
import { CodedError } from "../coded-error.js";
import { aesGcmOpen, aesGcmSeal, NONCE_BYTES, TAG_BYTES } from "./aes-gcm.js";

/** Codes of KEK files and data-key wrapping. */
export type DataKeyErrorCode =
  | "DATA_KEY_KEK_UNREADABLE"
  | "DATA_KEY_KEK_PERMISSIONS"
  | "DATA_KEY_KEK_INVALID"
  | "DATA_KEY_KEK_ROTATING"
  | "DATA_KEY_KEK_STALE"
  /** `kenshin keys rotate` on one node of a cluster, whose online nodes share one KEK (cli/keys.ts). */
  | "DATA_KEY_KEK_SHARED"
  /** A cluster's `kek.rotate` reached an online node without the new KEK beside its own (kek-cluster-rotation.ts). */
  | "DATA_KEY_KEK_NOT_GIVEN"
  | "DATA_KEY_UNWRAP_FAILED"
  | "DATA_KEY_INVALID";

/** Errors of data keys and of the KEK's file (`kek-file.ts`). Context carries paths and key ids, never key material. */
export class DataKeyError extends CodedError<DataKeyErrorCode> {
  override readonly name = "DataKeyError";
}

/** The key-encryption key, held in memory; it never leaves this object. */
export interface Kek {
  /** Hex of the first 8 bytes of SHA-256 of the key: names the key in `transfer_keys.kek_id`. */
  readonly id: string;
  /**
   * Wraps a 32-byte data key for one transfer: nonce (12) ‖ ciphertext (32) ‖ tag (16).
   * @throws DataKeyError DATA_KEY_INVALID, DATA_KEY_KEK_ROTATING, DATA_KEY_KEK_STALE
   */
  wrap(dek: Uint8Array, transferId: string): Uint8Array;
  /**
   * Unwraps a data key wrapped for the same transfer.
   * @throws DataKeyError DATA_KEY_UNWRAP_FAILED when the bytes, the transfer or the KEK do not match
   */
  unwrap(wrapped: Uint8Array, transferId: string): Uint8Array;
}

/** Bytes of a KEK and of a data key (AES-256). */
export const KEY_BYTES = 32;
const WRAPPED_BYTES = NONCE_BYTES + KEY_BYTES + TAG_BYTES;
const WRAP_LABEL = "kenshin-dek/v1";

/** A fresh random data key for one transfer. */
export function generateDataKey(random: (n: number) => Uint8Array): Uint8Array {
  const key = random(KEY_BYTES);
  if (key.length !== KEY_BYTES) {
    throw new DataKeyError("DATA_KEY_INVALID", "乱数源が不正です", { expected: KEY_BYTES, got: key.length });
  }
  return key;
}

/**
 * A KEK over the given key bytes. `beforeWrap` runs before
 * every wrap and refuses by throwing: the guard of a KEK loaded from its file (`kek-file.ts`).
 */
export function makeKek(keyBytes: Uint8Array, beforeWrap: () => void = () => undefined): Kek {
  // A private copy: the caller's buffer is zeroed after loading.
  const key = Buffer.from(keyBytes);
  const id = createHash("sha256").update(key).digest().subarray(0, 8).toString("hex");
  return {
    id,
    wrap(dek, transferId) {
      if (dek.length !== KEY_BYTES) {
        throw new DataKeyError("DATA_KEY_INVALID", "データ鍵の長さが不正です", { got: dek.length });
      }
      beforeWrap();
      const nonce = generateNonce();
      return Buffer.concat([nonce, aesGcmSeal(key, nonce, wrapAad(transferId), dek)]);
    },
    unwrap(wrapped, transferId) {
      const dek =
        wrapped.length === WRAPPED_BYTES
          ? aesGcmOpen(
              key,
              wrapped.subarray(0, NONCE_BYTES),
              wrapAad(transferId),
              wrapped.subarray(NONCE_BYTES),
            )
          : undefined;
      if (dek === undefined) {
        throw new DataKeyError("DATA_KEY_UNWRAP_FAILED", "データ鍵を復号できません", {
          kekId: id,
          transferId,
        });
      }
      return dek;
    },
  };
}

function generateNonce(): Buffer {
  // Kek.wrap takes no randomness (a KEK outlives any one caller), so its nonces come from the system
  // CSPRNG; that also means a repeating test source can never repeat a GCM nonce under a real KEK.
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
}

function wrapAad(transferId: string): Buffer {
  return Buffer.concat([Buffer.from(WRAP_LABEL, "utf8"), Buffer.of(0), Buffer.from(transferId, "utf8")]);
}
