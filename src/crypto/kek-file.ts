/**
 * The KEK's file `keys/kek.key` (base64 of 32 bytes + "\n", mode 0600, outside the database) and its
 * rotation's files: loading it, the pending `kek.key.new`, its commit and its discard. What a KEK does
 * with its key (wrapping data keys) is in `data-keys.ts`.
 *
 * Rotation protocol (the database side is in `store/payload-store.ts`): the new KEK is first written
 * beside the old one as `kek.key.new`, the wrapped keys are re-wrapped in one transaction, then
 * `kek.key.new` is renamed over `kek.key` and the old key's bytes are overwritten. While `kek.key.new`
 * exists a rotation is under way or was interrupted, so {@link loadKek} refuses to start on a guess and
 * a loaded KEK refuses to wrap new keys (they could end up under a key about to be destroyed).
 */
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
import { DataKeyError, generateDataKey, KEY_BYTES, makeKek, type Kek } from "./data-keys.js";

/** Strict base64 of exactly 32 bytes; Buffer.from(…, "base64") alone would skip garbage silently. */
const KEK_TEXT = /^[A-Za-z0-9+/]{43}=\n?$/;

/** Where a rotation keeps the new KEK until the database is re-wrapped. */
export function pendingKekPath(path: string): string {
  return `${path}.new`;
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

interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
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
