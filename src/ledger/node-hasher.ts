/**
 * RFC 6962 hashing on node:crypto (OpenSSL SHA-256), for the server side where fsck and appends hash
 * millions of leaves: it gives the same bytes as the pure `rfc6962Hasher` (a test checks) at several times
 * the speed. Never imported by `ledger/verify`, which must run in the browser.
 */
import { createHash } from "node:crypto";
import type { TreeHasher } from "./verify/hash.js";

const LEAF = Uint8Array.of(0x00);
const NODE = Uint8Array.of(0x01);
const EMPTY = new Uint8Array(createHash("sha256").digest());

/** node:crypto implementation of {@link TreeHasher}. */
export const nodeHasher: TreeHasher = {
  hashLeaf(entry) {
    return new Uint8Array(createHash("sha256").update(LEAF).update(entry).digest());
  },
  hashChildren(left, right) {
    return new Uint8Array(createHash("sha256").update(NODE).update(left).update(right).digest());
  },
  emptyRoot() {
    return EMPTY.slice();
  },
};
