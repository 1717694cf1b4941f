/**
 * A slow, literal transcription of RFC 9162 §2.1 (MTH, PATH, PROOF/SUBPROOF) over leaf byte strings,
 * kept only to cross-check the fast implementation. Deliberately shares no code with src/ledger except the
 * SHA-256 primitive from node:crypto.
 */
import { createHash } from "node:crypto";

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

function k(n: number): number {
  let p = 1;
  while (p * 2 < n) p *= 2;
  return p;
}

/** MTH(D[n]). */
export function refRoot(leaves: readonly Uint8Array[]): Uint8Array {
  const n = leaves.length;
  if (n === 0) return sha256();
  if (n === 1) return sha256(Uint8Array.of(0), leaves[0] as Uint8Array);
  const s = k(n);
  return sha256(Uint8Array.of(1), refRoot(leaves.slice(0, s)), refRoot(leaves.slice(s)));
}

/** PATH(m, D[n]). */
export function refPath(m: number, leaves: readonly Uint8Array[]): Uint8Array[] {
  const n = leaves.length;
  if (n <= 1) return [];
  const s = k(n);
  if (m < s) return [...refPath(m, leaves.slice(0, s)), refRoot(leaves.slice(s))];
  return [...refPath(m - s, leaves.slice(s)), refRoot(leaves.slice(0, s))];
}

function subproof(m: number, leaves: readonly Uint8Array[], b: boolean): Uint8Array[] {
  const n = leaves.length;
  if (m === n) return b ? [] : [refRoot(leaves)];
  const s = k(n);
  if (m <= s) return [...subproof(m, leaves.slice(0, s), b), refRoot(leaves.slice(s))];
  return [...subproof(m - s, leaves.slice(s), false), refRoot(leaves.slice(0, s))];
}

/** PROOF(m, D[n]). */
export function refConsistency(m: number, leaves: readonly Uint8Array[]): Uint8Array[] {
  if (m === 0 || m === leaves.length) return [];
  return subproof(m, leaves, true);
}

/** Leaf hash per RFC 9162. */
export function refLeafHash(leaf: Uint8Array): Uint8Array {
  return sha256(Uint8Array.of(0), leaf);
}
