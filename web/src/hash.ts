/**
 * Local hashing for the verify page: the file is read and hashed inside the browser, in chunks (so a
 * large file needs no second copy in memory), and only the hex digest is ever sent.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { toHex, utf8 } from "../../src/ledger/verify/encoding.js";

/** SHA-256 (lower-case hex) of a file, reporting the fraction read. */
export async function sha256OfFile(file: Blob, onProgress: (fraction: number) => void): Promise<string> {
  const hash = sha256.create();
  const reader = file.stream().getReader();
  let read = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hash.update(value);
    read += value.length;
    onProgress(file.size === 0 ? 1 : read / file.size);
  }
  return toHex(hash.digest());
}

/**
 * The record hash of one pasted standard-CSV record: SHA-256 of its UTF-8 bytes without the line
 * ending (README "Hashes"). Surrounding line breaks a paste may bring are removed; nothing else is
 * touched, so a changed character changes the hash.
 */
export function recordHashOfText(text: string): string {
  let end = text.length;
  while (end > 0 && (text[end - 1] === "\n" || text[end - 1] === "\r")) end--;
  let start = 0;
  while (start < end && (text[start] === "\n" || text[start] === "\r")) start++;
  return toHex(sha256(utf8(text.slice(start, end))));
}
