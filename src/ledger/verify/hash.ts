/**
 * RFC 6962 / RFC 9162 §2.1.1 Merkle tree hashing with SHA-256:
 * leaf = SHA-256(0x00 ‖ entry), interior node = SHA-256(0x01 ‖ left ‖ right), empty tree = SHA-256("").
 * The domain-separation prefixes are what stop a leaf from being passed off as a node (second preimage);
 * odd nodes are never duplicated. https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { LedgerError } from "../errors.js";

/** Size in bytes of every hash in the log (SHA-256). */
export const HASH_SIZE = 32;

/** RFC 9162 §2.1.1 prefix of leaf hashes. */
export const LEAF_PREFIX = 0x00;
/** RFC 9162 §2.1.1 prefix of interior node hashes. */
export const NODE_PREFIX = 0x01;

/**
 * The two hash functions of a log. The browser uses {@link rfc6962Hasher} (pure JS); the server may pass a
 * faster implementation with the same results (see `ledger/node-hasher.ts`).
 */
export interface TreeHasher {
  hashLeaf(entry: Uint8Array): Uint8Array;
  hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array;
  emptyRoot(): Uint8Array;
}

/** The pure-JS RFC 6962 hasher (@noble/hashes). */
export const rfc6962Hasher: TreeHasher = {
  hashLeaf(entry) {
    return sha256.create().update(Uint8Array.of(LEAF_PREFIX)).update(entry).digest();
  },
  hashChildren(left, right) {
    return sha256.create().update(Uint8Array.of(NODE_PREFIX)).update(left).update(right).digest();
  },
  emptyRoot() {
    return sha256(new Uint8Array(0));
  },
};

/** Throws LEDGER_HASH_SIZE_INVALID unless `hash` is a SHA-256 digest by length. */
export function assertHashSize(hash: Uint8Array, what: string): void {
  if (hash.length !== HASH_SIZE) {
    throw new LedgerError("LEDGER_HASH_SIZE_INVALID", `${what} の長さが ${HASH_SIZE} バイトではありません`, {
      what,
      length: hash.length,
    });
  }
}
