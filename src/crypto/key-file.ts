/**
 * Key files: one signer-key line (see note-key.ts), created with mode 0600 and never overwritten.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { CryptoError } from "./errors.js";
import { formatSignerKey, parseSignerKey, type NoteKey } from "./note-key.js";

/**
 * Writes a new key file.
 * @throws CryptoError CRYPTO_KEY_FILE_EXISTS when the file already exists
 */
export function writeKeyFile(path: string, key: NoteKey): void {
  try {
    writeFileSync(path, `${formatSignerKey(key)}\n`, { mode: 0o600, flag: "wx" });
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
