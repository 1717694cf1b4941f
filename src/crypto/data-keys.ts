/**
 * Data keys and the key-encryption key (KEK) for payloads at rest.
 *
 * Every transfer gets a fresh 256-bit data key (DEK); the DEK is stored only wrapped by the node's KEK,
 * which lives in `keys/kek.key` outside the database (base64 of 32 bytes + "\n", mode 0600). A copy of
 * the database alone therefore cannot decrypt anything, and destroying the KEK (or one wrapped DEK)
 * crypto-shreds what it protected.
 *
 * Wrapping is AES-256-GCM (NIST SP 800-38D) with a random 96-bit nonce, bound to the transfer by the
 * associated data `"kenshin-dek/v1" ‖ 0x00 ‖ transferId`, so a wrapped key copied onto another transfer's
 * row does not unwrap. Random nonces are safe up to 2^32 wraps per KEK (SP 800-38D §8.3); a node wraps
 * one key per transfer and gets a new KEK at each rotation.
 *
 * Rotation protocol (the database side is in `store/payload-store.ts`): the new KEK is first written
 * beside the old one as `kek.key.new`, the wrapped keys are re-wrapped in one transaction, then
 * `kek.key.new` is renamed over `kek.key` and the old key's bytes are overwritten. While `kek.key.new`
 * exists a rotation is under way or was interrupted, so {@link loadKek} refuses to start on a guess and
 * a loaded KEK refuses to wrap new keys (they could end up under a key about to be destroyed).
 */
import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { CodedError } from "../coded-error.js";

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

/** Errors of this module. Context carries paths and key ids, never key material. */
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
/** Bytes of a GCM nonce (the 96-bit size SP 800-38D recommends). */
export const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const WRAPPED_BYTES = NONCE_BYTES + KEY_BYTES + TAG_BYTES;
const WRAP_LABEL = "kenshin-dek/v1";
/** Strict base64 of exactly 32 bytes; Buffer.from(…, "base64") alone would skip garbage silently. */
const KEK_TEXT = /^[A-Za-z0-9+/]{43}=\n?$/;

/** Where a rotation keeps the new KEK until the database is re-wrapped. */
export function pendingKekPath(path: string): string {
  return `${path}.new`;
}

/** A fresh random data key for one transfer. */
export function generateDataKey(random: (n: number) => Uint8Array): Uint8Array {
  const key = random(KEY_BYTES);
  if (key.length !== KEY_BYTES) {
    throw new DataKeyError("DATA_KEY_INVALID", "乱数源が不正です", { expected: KEY_BYTES, got: key.length });
  }
  return key;
}

/**
 * Loads the KEK file, refusing one that group or others could read, one of the wrong length, and one
 * left beside an unfinished rotation (`kenshin keys rotate` finishes or rolls it back).
 * @throws DataKeyError DATA_KEY_KEK_UNREADABLE, DATA_KEY_KEK_PERMISSIONS, DATA_KEY_KEK_INVALID,
 *   DATA_KEY_KEK_ROTATING
 */
export async function loadKek(path: string): Promise<Kek> {
  assertNoPendingRotation(path);
  let text: string;
  let identity: FileIdentity;
  try {
    const st = await stat(path);
    identity = checkKekFileMode(path, st);
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw asUnreadable(path, cause);
  }
  return guardedKek(parseKekText(path, text), path, identity);
}

/**
 * The KEK in `kek.key` while a rotation is pending beside it (its mode checked), for the re-wrap of a
 * cluster's rotation, which runs with `kek.key.new` present by design. It cannot wrap: only unwrap
 * the keys about to be re-wrapped.
 * @throws DataKeyError DATA_KEY_KEK_UNREADABLE, DATA_KEY_KEK_PERMISSIONS, DATA_KEY_KEK_INVALID
 */
export function loadRotatingKekSync(path: string): Pick<Kek, "id" | "unwrap"> {
  let text: string;
  try {
    checkKekFileMode(path, statSync(path));
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw asUnreadable(path, cause);
  }
  const key = parseKekText(path, text);
  const kek = makeKek(key, () => {
    throw new DataKeyError("DATA_KEY_KEK_ROTATING", "更新中の古い鍵暗号化鍵では包めません", { path });
  });
  key.fill(0);
  return { id: kek.id, unwrap: (wrapped, transferId) => kek.unwrap(wrapped, transferId) };
}

/** Synchronous {@link loadKek}, for rotation, which runs while it holds the database's write lock. */
export function loadKekSync(path: string): Kek {
  assertNoPendingRotation(path);
  let text: string;
  let identity: FileIdentity;
  try {
    identity = checkKekFileMode(path, statSync(path));
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw asUnreadable(path, cause);
  }
  return guardedKek(parseKekText(path, text), path, identity);
}

/**
 * Writes a new random KEK to `kek.key.new` (mode 0600, exclusive create, file and directory fsynced
 * before returning, so the key is durable before anything is wrapped under it).
 */
export function writePendingKek(path: string, random: (n: number) => Uint8Array): Kek {
  const key = generateDataKey(random);
  try {
    return writePendingKekKey(path, key);
  } finally {
    key.fill(0);
  }
}

/**
 * {@link writePendingKek} with the key given: a cluster's rotation makes one new KEK and puts the same
 * key beside every online node's (cluster/kek-cluster-rotation.ts). The caller zeroes `keyBytes`.
 */
export function writePendingKekKey(path: string, keyBytes: Uint8Array): Kek {
  if (keyBytes.length !== KEY_BYTES) {
    throw new DataKeyError("DATA_KEY_INVALID", "鍵暗号化鍵の長さが不正です", { got: keyBytes.length });
  }
  const key = Buffer.from(keyBytes);
  const text = Buffer.from(`${key.toString("base64")}\n`);
  let fd: number;
  try {
    fd = openSync(pendingKekPath(path), "wx", 0o600);
  } catch (cause) {
    text.fill(0);
    if ((cause as NodeJS.ErrnoException).code === "EEXIST") assertNoPendingRotation(path);
    throw asUnreadable(pendingKekPath(path), cause);
  }
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
    text.fill(0);
  }
  fsyncDir(dirname(path));
  const kek = makeKek(key);
  key.fill(0);
  return kek;
}

/**
 * The KEK left in `kek.key.new`, or undefined when there is none. A file that does not parse is a
 * torn write from a crash before anything was wrapped under it: the caller discards it.
 */
export function readPendingKek(path: string): Kek | "unparsable" | undefined {
  let text: string;
  try {
    text = readFileSync(pendingKekPath(path), "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw asUnreadable(pendingKekPath(path), cause);
  }
  try {
    return makeKek(parseKekText(path, text));
  } catch {
    return "unparsable";
  }
}

/**
 * Moves `kek.key.new` over `kek.key` and overwrites the old key's bytes. The old file is opened first
 * and overwritten through that descriptor after the rename, so there is no moment without a valid
 * `kek.key` and no second name for the old key. A missing `kek.key.new` means another process already
 * finished this rotation; that is not an error.
 *
 * Overwriting is not a reliable erase: SSD wear levelling, copy-on-write and journaling file systems
 * may keep the old blocks. The security does not rest on it — the old KEK was never in the database,
 * and every live data key is now wrapped under the new one, so whatever survives of the old key opens
 * nothing but wrapped keys that have themselves been replaced (and, after deletion, erased).
 */
export function commitPendingKek(path: string): void {
  let oldFd: number | undefined;
  try {
    oldFd = openSync(path, "r+");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== "ENOENT") throw asUnreadable(path, cause);
  }
  try {
    try {
      renameSync(pendingKekPath(path), path);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") return;
      throw asUnreadable(path, cause);
    }
    fsyncDir(dirname(path));
    if (oldFd !== undefined) overwrite(oldFd);
  } finally {
    if (oldFd !== undefined) closeSync(oldFd);
  }
}

/** Overwrites and removes `kek.key.new` (a rotation rolled back before its commit). */
export function discardPendingKek(path: string): void {
  const pending = pendingKekPath(path);
  let fd: number;
  try {
    fd = openSync(pending, "r+");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return;
    throw asUnreadable(pending, cause);
  }
  try {
    overwrite(fd);
  } finally {
    closeSync(fd);
  }
  unlinkSync(pending);
  fsyncDir(dirname(path));
}

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

interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

function makeKek(keyBytes: Uint8Array, beforeWrap: () => void = () => undefined): Kek {
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

/**
 * A KEK from `kek.key` that refuses to wrap once the file was replaced (another process rotated: the
 * key in memory is about to be destroyed) or while a rotation is pending. Unwrapping needs no guard: a
 * stale KEK simply fails to open keys re-wrapped under the new one.
 */
function guardedKek(key: Buffer, path: string, loaded: FileIdentity): Kek {
  const kek = makeKek(key, () => {
    assertNoPendingRotation(path);
    let now: FileIdentity;
    try {
      now = statSync(path);
    } catch (cause) {
      throw asUnreadable(path, cause);
    }
    if (now.dev !== loaded.dev || now.ino !== loaded.ino) {
      throw new DataKeyError("DATA_KEY_KEK_STALE", "鍵暗号化鍵が更新されています (読み直してください)", {
        path,
      });
    }
  });
  key.fill(0);
  return kek;
}

function generateNonce(): Buffer {
  // Kek.wrap takes no randomness (a KEK outlives any one caller), so its nonces come from the system
  // CSPRNG; that also means a repeating test source can never repeat a GCM nonce under a real KEK.
  return Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
}

function wrapAad(transferId: string): Buffer {
  return Buffer.concat([Buffer.from(WRAP_LABEL, "utf8"), Buffer.of(0), Buffer.from(transferId, "utf8")]);
}

function checkKekFileMode(
  path: string,
  st: { mode: number; dev: number; ino: number; isFile(): boolean },
): FileIdentity {
  if (!st.isFile()) {
    throw new DataKeyError("DATA_KEY_KEK_INVALID", "鍵暗号化鍵がファイルではありません", { path });
  }
  // Owner-only: a KEK that group or others can read is as good as published.
  if (process.platform !== "win32" && (st.mode & 0o077) !== 0) {
    throw new DataKeyError(
      "DATA_KEY_KEK_PERMISSIONS",
      "鍵暗号化鍵のファイルは所有者だけが読めるようにしてください (chmod 600)",
      { path, mode: (st.mode & 0o777).toString(8) },
    );
  }
  return { dev: st.dev, ino: st.ino };
}

function parseKekText(path: string, text: string): Buffer {
  if (!KEK_TEXT.test(text)) {
    throw new DataKeyError("DATA_KEY_KEK_INVALID", "鍵暗号化鍵は32バイトの base64 1行である必要があります", {
      path,
    });
  }
  return Buffer.from(text.trimEnd(), "base64");
}

function assertNoPendingRotation(path: string): void {
  if (existsSync(pendingKekPath(path))) {
    throw new DataKeyError(
      "DATA_KEY_KEK_ROTATING",
      "鍵の更新が途中です (kenshin keys rotate を実行すると完了または取り消しされます)",
      { path: pendingKekPath(path) },
    );
  }
}

function overwrite(fd: number): void {
  const { size } = fstatSync(fd);
  if (size > 0) writeSync(fd, Buffer.alloc(size), 0, size, 0);
  fsyncSync(fd);
}

/** Makes a rename or create in `dir` durable (POSIX needs the directory itself fsynced). */
function fsyncDir(dir: string): void {
  if (process.platform === "win32") return;
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function asUnreadable(path: string, cause: unknown): Error {
  if (cause instanceof DataKeyError) return cause;
  return new DataKeyError("DATA_KEY_KEK_UNREADABLE", "鍵暗号化鍵を読めません", { path }, { cause });
}
