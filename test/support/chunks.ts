/**
 * Splits a text or byte array at the given cut points (clamped, deduplicated, sorted): the chunking a
 * stream could deliver. Used by the chunk-boundary invariance tests of every streaming stage.
 */
export function splitAt<T extends string | Uint8Array>(whole: T, cuts: readonly number[]): T[] {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(c, whole.length))))].sort((a, b) => a - b);
  const parts: T[] = [];
  let prev = 0;
  for (const p of [...points, whole.length]) {
    parts.push(whole.slice(prev, p) as T);
    prev = p;
  }
  return parts;
}
