/**
 * "Did you mean …?" for mapping messages: the closest known name (column, item key or name, code
 * table, thesaurus domain) to one that was not found. Names are compared after NFKC, white-space
 * removal and ASCII case folding, by edit distance; a candidate is offered only when it is close
 * enough to be a likely typo (≤ 1/3 of the longer name's length, at least 1). Bounded: names over 64
 * characters and more than 20,000 candidates are not compared.
 */

const MAX_NAME = 64;
const MAX_CANDIDATES = 20_000;

function fold(text: string): string {
  return text.normalize("NFKC").replace(/\s+/g, "").toLowerCase();
}

/** Levenshtein distance of two strings (code units), or `limit + 1` once it exceeds `limit`. */
export function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const v = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      cur.push(v);
      if (v < best) best = v;
    }
    if (best > limit) return limit + 1;
    prev = cur;
  }
  return prev[b.length] ?? limit + 1;
}

/** The closest candidate to `name`, or undefined when none is close. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  const target = fold(name);
  if (target === "" || target.length > MAX_NAME) return undefined;
  let best: string | undefined;
  let bestDistance = Infinity;
  let n = 0;
  for (const candidate of candidates) {
    if (++n > MAX_CANDIDATES) break;
    const c = fold(candidate);
    if (c === "" || c.length > MAX_NAME) continue;
    if (c === target) return candidate;
    const limit = Math.max(1, Math.floor(Math.max(c.length, target.length) / 3));
    const d = editDistance(target, c, limit);
    if (d <= limit && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** A message tail 「 (もしかして「X」ですか)」, or "" when nothing is close. */
export function suggestion(name: string, candidates: Iterable<string> | null | undefined): string {
  if (!candidates) return "";
  const c = closest(name, candidates);
  return c === undefined ? "" : ` (もしかして「${c}」ですか)`;
}
