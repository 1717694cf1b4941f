/**
 * Index arithmetic of RFC 9162 trees, shared by proof verification and proof building.
 *
 * Sizes and indices are JS numbers range-checked to the safe-integer range before any arithmetic (a
 * checkpoint's size is attacker-controlled text); bit operations go through BigInt because `>>` on numbers
 * truncates to 32 bits.
 */
import { LedgerError } from "../errors.js";

/** Throws LEDGER_SIZE_INVALID unless `n` is a non-negative safe integer. */
export function assertTreeSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new LedgerError("LEDGER_SIZE_INVALID", `${what} が 0 以上の整数ではありません`, { what, value: n });
  }
}

/** Number of bits needed to write `n` (0 for 0). */
export function bitLength(n: number): number {
  return n === 0 ? 0 : BigInt(n).toString(2).length;
}

/** Number of one bits in `n`. */
export function onesCount(n: number): number {
  let count = 0;
  for (const ch of BigInt(n).toString(2)) if (ch === "1") count++;
  return count;
}

/** Number of trailing zero bits of a positive `n`. */
export function trailingZeros(n: number): number {
  const bits = BigInt(n).toString(2);
  return bits.length - 1 - bits.lastIndexOf("1");
}

/** `n >> shift` for safe integers of any size. */
export function shiftRight(n: number, shift: number): number {
  return Number(BigInt(n) >> BigInt(shift));
}

/** Bit `bit` of `n` (0 or 1). */
export function bitAt(n: number, bit: number): number {
  return Number((BigInt(n) >> BigInt(bit)) & 1n);
}

/** Largest power of two strictly smaller than `n` (n ≥ 2): the split point k of RFC 9162 §2.1.1. */
export function splitPoint(n: number): number {
  return 2 ** (bitLength(n - 1) - 1);
}

/**
 * Splits the inclusion proof of leaf `index` in a tree of `size` into its inner part (below the point where
 * the paths to `index` and `size - 1` diverge) and its border part (left siblings on the right border).
 * Their sum is the only valid proof length (RFC 9162 §2.1.3.2).
 */
export function decomposeInclusionProof(index: number, size: number): { inner: number; border: number } {
  const inner = bitLength(xor(index, size - 1));
  const border = onesCount(shiftRight(index, inner));
  return { inner, border };
}

function xor(a: number, b: number): number {
  return Number(BigInt(a) ^ BigInt(b));
}
