/**
 * Key files: one signer-key line (see note-key.ts), created with mode 0600 and never overwritten.
 * Written to a temp file, fsynced and then linked into place, so a crash leaves no key file or a whole
 * one, never an empty or torn key.
 */
import { closeSync, fsyncSync, linkSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { CryptoError } from "./errors.js";
import { formatSignerKey, parseSignerKey, type NoteKey } from "./note-key.js";

/**
 * Writes a new key file.
 * @throws CryptoError CRYPTO_KEY_FILE_EXISTS when the file already exists
 */
export function writeKeyFile(path: string, key: NoteKey): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, `${formatSignerKey(key)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, path);
    const dir = openSync(dirname(path), "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "EEXIST") {
      throw new CryptoError(
        "CRYPTO_KEY_FILE_EXISTS",
        "鍵ファイルが既にあります (上書きしません)",
        {},
        { cause },
      );
    }
    throw new CryptoError("CRYPTO_KEY_FILE_UNREADABLE", "鍵ファイルを書けません", {}, { cause });
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Reads a key file.
 * @throws CryptoError CRYPTO_KEY_FILE_UNREADABLE, CRYPTO_KEY_INVALID
 */
export function readKeyFile(path: string): NoteKey {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new CryptoError("CRYPTO_KEY_FILE_UNREADABLE", "鍵ファイルを読めません", {}, { cause });
  }
  return parseSignerKey(text);
}
