/**
 * A per-field memo of `convertField`'s outcome, keyed by the field's source bytes (fast-path rows only).
 *
 * Why bytes: converting one field is a pure function of its text (the code tables, number clean-up,
 * 和暦 dates, thesaurus — only the row number in its issues differs), and a wide export repeats most
 * field values on every few rows (heights, codes, findings). A memo keyed by the decoded string paid
 * for the string and for hashing it (bench/convert, README); here the key is the bytes between the
 * field's bounds in the row buffer — hashed and compared in place, no string made on a hit.
 *
 * Bounded: at most `capacity` entries per field, keys of at most `MAX_KEY` bytes. A field whose values
 * rarely recur (ids, names) stops using its memo after one window of look-ups with too few hits.
 */
import type { FindingState } from "./field-convert.js";
import type { Issue } from "./issues.js";

/** Longest field (in bytes) that is memoised. */
export const MAX_KEY = 24;

/** What one conversion of a field's text gave, for any row with the same bytes. */
export interface MemoOutcome {
  readonly value: string;
  readonly original: string;
  readonly finding: FindingState;
  readonly rejected: boolean;
  /** Issues of that conversion as first raised; on a hit each is copied with the row replaced. */
  readonly issues: readonly Issue[];
}

export interface FieldMemoLimits {
  /** Most entries (default 4096). */
  readonly capacity: number;
  /** Look-ups per window (default 4096). */
  readonly window: number;
  /** Fewest hits in a window to keep the memo on (default a quarter of the window). */
  readonly minHits: number;
}

const DEFAULT_LIMITS: FieldMemoLimits = { capacity: 4096, window: 4096, minHits: 1024 };

/**
 * Ints per table slot: tag ((entry + 1) << 6 | PLAIN when the outcome has no issue, no finding and is
 * not rejected | length), hash, then the key's bytes 4 to an int.
 */
const SLOT = 8;
const KEY_WORDS = SLOT - 2;
const PLAIN = 32;

export class FieldMemo {
  /** False once the field's values proved not to recur: callers then convert every row. */
  enabled = true;

  private readonly limits: FieldMemoLimits;
  /**
   * Open addressing, one slot of 32 bytes per key (tag, hash and the key itself side by side, so a
   * look-up touches one cache line); grows from 64 slots while at most half full.
   */
  private table = new Int32Array(64 * SLOT);
  private mask = 63;
  /** Per entry: the value and original (dense, so a hit loads no object), and the rest unless plain. */
  readonly values: string[] = [];
  readonly originals: string[] = [];
  private readonly others: (MemoOutcome | undefined)[] = [];
  /** Whether the entry last found is plain (its value and original are the whole outcome). */
  lastPlain = true;
  /** The key being looked up, 4 bytes to an int (what the table holds). */
  private readonly words = new Int32Array(KEY_WORDS);
  private lookups = 0;
  private hits = 0;
  /** Where the last missed key would go, its hash and length. */
  private missSlot = -1;
  private missHash = 0;
  private missLength = 0;

  constructor(limits: FieldMemoLimits = DEFAULT_LIMITS) {
    this.limits = limits;
  }

  /**
   * The entry memoised for `buf[start, end)` (1 ≤ length ≤ MAX_KEY), or -1 (then `remember` may store
   * the outcome of converting it, before the next look-up). Sets `lastPlain`.
   */
  find(buf: Uint8Array, start: number, end: number): number {
    const len = end - start;
    const nw = (len + 3) >> 2;
    const w = this.words;
    let h = len;
    for (let j = 0, i = start; j < nw; j++, i += 4) {
      // Bytes past `end` count as 0 (the length is in the tag and the hash).
      let v = buf[i] ?? 0;
      if (i + 1 < end) v |= (buf[i + 1] ?? 0) << 8;
      if (i + 2 < end) v |= (buf[i + 2] ?? 0) << 16;
      if (i + 3 < end) v |= (buf[i + 3] ?? 0) << 24;
      w[j] = v;
      h = Math.imul(h ^ v, 0x9e3779b1);
      h ^= h >>> 15;
    }
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    const table = this.table;
    const mask = this.mask;
    let s = h & mask;
    this.missSlot = -1;
    for (;;) {
      const base = s * SLOT;
      const tag = table[base] ?? 0;
      if (tag === 0) break;
      if ((tag & 31) === len && table[base + 1] === h) {
        let j = 0;
        while (j < nw && table[base + 2 + j] === w[j]) j++;
        if (j === nw) {
          this.count(true);
          this.lastPlain = (tag & PLAIN) !== 0;
          return (tag >> 6) - 1;
        }
      }
      s = (s + 1) & mask;
    }
    this.missSlot = s;
    this.missHash = h;
    this.missLength = len;
    this.count(false);
    return -1;
  }

  /** The whole outcome of an entry. */
  outcome(entry: number): MemoOutcome {
    return (
      this.others[entry] ?? {
        value: this.values[entry] ?? "",
        original: this.originals[entry] ?? "",
        finding: undefined,
        rejected: false,
        issues: [],
      }
    );
  }

  /** Stores the outcome for the key of the last missed look-up (ignored when full). */
  remember(outcome: MemoOutcome): void {
    const e = this.values.length;
    if (this.missSlot < 0 || e >= this.limits.capacity) return;
    const base = this.missSlot * SLOT;
    const table = this.table;
    const plain = outcome.issues.length === 0 && outcome.finding === undefined && !outcome.rejected;
    table[base] = ((e + 1) << 6) | (plain ? PLAIN : 0) | this.missLength;
    table[base + 1] = this.missHash;
    const nw = (this.missLength + 3) >> 2;
    for (let j = 0; j < nw; j++) table[base + 2 + j] = this.words[j] ?? 0;
    this.values.push(outcome.value);
    this.originals.push(outcome.original);
    this.others.push(plain ? undefined : outcome);
    this.missSlot = -1;
    if ((e + 1) * 2 > this.mask + 1) this.grow();
  }

  private grow(): void {
    const old = this.table;
    const slots = (this.mask + 1) * 2;
    const table = new Int32Array(slots * SLOT);
    const mask = slots - 1;
    for (let base = 0; base < old.length; base += SLOT) {
      if (old[base] === 0) continue;
      let s = (old[base + 1] ?? 0) & mask;
      while (table[s * SLOT] !== 0) s = (s + 1) & mask;
      table.set(old.subarray(base, base + SLOT), s * SLOT);
    }
    this.table = table;
    this.mask = mask;
  }

  private count(hit: boolean): void {
    if (hit) this.hits++;
    if (++this.lookups < this.limits.window) return;
    if (this.hits < this.limits.minHits) this.enabled = false;
    this.lookups = 0;
    this.hits = 0;
  }
}

/** The issues of a memoised outcome for another row: same objects but for `row` (key order kept). */
export function issuesForRow(outcome: MemoOutcome, row: number, into: Issue[]): void {
  for (const issue of outcome.issues) into.push({ ...issue, row });
}
