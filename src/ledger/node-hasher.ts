/**
 * RFC 6962 hashing on node:crypto (OpenSSL SHA-256), for the server side where fsck and appends hash
 * millions of leaves: it gives the same bytes as the pure `rfc6962Hasher` (a test checks) at several times
 * the speed. Each hash is one `crypto.hash` call over the prefixed input, assembled in a reused buffer:
 * the one-shot call costs about half of a `createHash` object with its updates. Never imported by
 * `ledger/verify`, which must run in the browser.
 */
import { createHash, hash } from "node:crypto";
import type { TreeHasher } from "./verify/hash.js";

const EMPTY = new Uint8Array(createHash("sha256").digest());
/** Where the 0x00/0x01-prefixed input is assembled (single-threaded: never in use twice at once). */
const scratch = new Uint8Array(64 * 1024 + 1);

function sha256(input: Uint8Array): Uint8Array {
  const digest = hash("sha256", input, "buffer");
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/** node:crypto implementation of {@link TreeHasher}. */
export const nodeHasher: TreeHasher = {
  hashLeaf(entry) {
    if (entry.length >= scratch.length) return sha256(Buffer.concat([Uint8Array.of(0x00), entry]));
    scratch[0] = 0x00;
    scratch.set(entry, 1);
    return sha256(scratch.subarray(0, entry.length + 1));
  },
  hashChildren(left, right) {
    if (left.length !== 32 || right.length !== 32) {
      return sha256(Buffer.concat([Uint8Array.of(0x01), left, right]));
    }
    scratch[0] = 0x01;
    scratch.set(left, 1);
    scratch.set(right, 33);
    return sha256(scratch.subarray(0, 65));
  },
  emptyRoot() {
    return EMPTY.slice();
  },
};
