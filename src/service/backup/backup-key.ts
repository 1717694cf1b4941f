/**
 * The backup key (`keys/backup.key`, 32 random bytes, base64, mode 0600, made on first use): it seals
 * backup generations and is not the key-encryption key (backup.ts says why that matters).
 */
import { existsSync } from "node:fs";
import { link, open, readFile, rm, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { keyTempName } from "./backup-leftovers.js";
import { BACKUP_KEY_BYTES } from "./backup-file.js";
import type { DataPaths } from "../data-dir.js";
import { ServiceError } from "../errors.js";

/** `keys/backup.key`, beside the other keys. */
export function backupKeyPath(paths: DataPaths): string {
  return join(dirname(paths.kek), "backup.key");
}

export function unusable(message: string, cause?: unknown): ServiceError {
  return new ServiceError("SERVICE_DATA_DIR_UNUSABLE", message, {}, { cause });
}

export async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Reads `keys/backup.key`; with `random`, creates it when missing: written to a temp file, fsynced, then
 * linked into place (link fails when the name exists, so two first backups cannot end up with
 * different keys, and a kill at any moment leaves either no key file or a whole one). An empty key
 * file, left by a kill during an older version's first backup, never encrypted anything and is
 * replaced. Refuses a file group or others could read.
 */
export async function loadBackupKey(
  paths: DataPaths,
  random?: (n: number) => Uint8Array,
): Promise<Uint8Array> {
  const path = backupKeyPath(paths);
  if (random !== undefined && existsSync(path) && (await stat(path)).size === 0) await unlink(path);
  if (random !== undefined && !existsSync(path)) {
    const tmp = keyTempName(path);
    const fresh = Buffer.from(random(BACKUP_KEY_BYTES));
    try {
      const handle = await open(tmp, "w", 0o600);
      try {
        await handle.writeFile(`${fresh.toString("base64")}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await link(tmp, path);
      await fsyncDir(dirname(path));
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== "EEXIST")
        throw unusable("バックアップ鍵を作れません", cause);
    } finally {
      fresh.fill(0);
      await rm(tmp, { force: true });
    }
  }
  let text: string;
  try {
    if (((await stat(path)).mode & 0o077) !== 0) {
      throw unusable("バックアップ鍵のファイルが所有者以外から読めます (chmod 600 にしてください)");
    }
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw cause instanceof ServiceError ? cause : unusable("バックアップ鍵を読めません", cause);
  }
  const key = Buffer.from(text.trim(), "base64");
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text.trim()) || key.length !== BACKUP_KEY_BYTES) {
    throw unusable("バックアップ鍵の形式が正しくありません (32 バイトの base64)");
  }
  return key;
}
