/**
 * The record keys (受診者番号 + 実施日) seen so far, each with the line it was first seen on, for finding
 * duplicates (duplicate-keys.ts) across a whole export — and across the two halves of a parallel run
 * (key-join.ts).
 *
 * Exact and compact: a key is its parts' UTF-8 bytes joined by 0x1F, kept in one byte arena, found
 * through an open-addressing table of entry numbers (FNV-1a of the bytes, then a byte comparison). About
 * 45 bytes per record (a 1 GB export's million records: ~45 MB), no string or object per key, no
 * cryptographic hash per record, and the whole table is three typed arrays that move to another thread
 * without copying their contents one by one.
 */

/** Per entry: start in the arena, length, hash, first line. */
const STRIDE = 4;
const EMPTY = -1;
const SEPARATOR = 0x1f;

/** A table as plain typed arrays (what `KeyTable.data()` gives and the constructor takes back). */
export interface KeyTableData {
  readonly arena: Uint8Array;
  readonly entries: Int32Array;
  readonly count: number;
}

export class KeyTable {
  private arena: Buffer;
  private used = 0;
  private entries: Int32Array;
  private n = 0;
  private slots: Int32Array;
  private mask: number;
  /** The staged key: bytes at [used, used + stagedLength) of the arena, and its hash. */
  private stagedLength = 0;
  private stagedHash = 0;

  constructor(data?: KeyTableData) {
    if (data === undefined) {
      this.arena = Buffer.allocUnsafe(1 << 16);
      this.entries = new Int32Array(STRIDE * 1024);
      this.slots = new Int32Array(2048).fill(EMPTY);
      this.mask = 2047;
      return;
    }
    this.arena = Buffer.from(data.arena.buffer, data.arena.byteOffset, data.arena.byteLength);
    this.used = data.arena.byteLength;
    this.entries = data.entries;
    this.n = data.count;
    let size = 2048;
    while (size < this.n * 2) size *= 2;
    this.slots = new Int32Array(size).fill(EMPTY);
    this.mask = size - 1;
    for (let e = 0; e < this.n; e++) this.place(e);
  }

  /** Number of keys held. */
  get size(): number {
    return this.n;
  }

  /**
   * Stages the key made of `values` at `indices` (joined by U+001F). False when there is no key: no
   * indices, or one of the parts is empty.
   */
  stage(values: readonly string[], indices: readonly number[]): boolean {
    if (indices.length === 0) return false;
    let length = 0;
    for (let k = 0; k < indices.length; k++) {
      const part = values[indices[k] ?? -1] ?? "";
      if (part === "") return false;
      // A UTF-16 unit is at most 3 UTF-8 bytes.
      this.reserve(length, part.length * 3 + 1);
      if (k > 0) this.arena[this.used + length++] = SEPARATOR;
      length += this.arena.write(part, this.used + length, "utf8");
    }
    this.stagedLength = length;
    this.stagedHash = fnv1a(this.arena, this.used, this.used + length);
    return true;
  }

  /** The entry holding the staged key, or -1. */
  findStaged(): number {
    return this.find(this.arena, this.used, this.stagedLength, this.stagedHash);
  }

  /** Adds the staged key (the caller found it absent), first seen on `line`; returns its entry. */
  addStaged(line: number): number {
    if (this.n * STRIDE >= this.entries.length) {
      const grown = new Int32Array(this.entries.length * 2);
      grown.set(this.entries);
      this.entries = grown;
    }
    const e = this.n++;
    const at = e * STRIDE;
    this.entries[at] = this.used;
    this.entries[at + 1] = this.stagedLength;
    this.entries[at + 2] = this.stagedHash;
    this.entries[at + 3] = line;
    this.used += this.stagedLength;
    if (this.n * 2 > this.slots.length) this.rehash();
    else this.place(e);
    return e;
  }

  /** The line entry `e` was first seen on. */
  lineOf(e: number): number {
    return this.entries[e * STRIDE + 3] ?? 0;
  }

  /** The entry of `other` that holds the key of this table's entry `e`, or -1. */
  findIn(other: KeyTable, e: number): number {
    const at = e * STRIDE;
    return other.find(
      this.arena,
      this.entries[at] ?? 0,
      this.entries[at + 1] ?? 0,
      this.entries[at + 2] ?? 0,
    );
  }

  /** The table as typed arrays (copies: the table can go on growing). */
  data(): KeyTableData {
    return {
      arena: Uint8Array.prototype.slice.call(this.arena, 0, this.used),
      entries: this.entries.slice(0, this.n * STRIDE),
      count: this.n,
    };
  }

  private find(bytes: Uint8Array, start: number, length: number, hash: number): number {
    const { slots, entries, arena } = this;
    for (let s = hash & this.mask; ; s = (s + 1) & this.mask) {
      const e = slots[s] ?? EMPTY;
      if (e === EMPTY) return -1;
      const at = e * STRIDE;
      if (entries[at + 2] !== hash || entries[at + 1] !== length) continue;
      const from = entries[at] ?? 0;
      let k = 0;
      while (k < length && arena[from + k] === bytes[start + k]) k++;
      if (k === length) return e;
    }
  }

  private place(e: number): void {
    const hash = this.entries[e * STRIDE + 2] ?? 0;
    let s = hash & this.mask;
    while (this.slots[s] !== EMPTY) s = (s + 1) & this.mask;
    this.slots[s] = e;
  }

  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(EMPTY);
    this.mask = this.slots.length - 1;
    for (let e = 0; e < this.n; e++) this.place(e);
  }

  /** Room for `more` bytes after the `staged` bytes written so far. */
  private reserve(staged: number, more: number): void {
    if (this.used + staged + more <= this.arena.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.arena.length * 2, this.used + staged + more));
    this.arena.copy(grown, 0, 0, this.used + staged);
    this.arena = grown;
  }
}

/** 32-bit FNV-1a of bytes [start, end). */
function fnv1a(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ (bytes[i] ?? 0), 0x01000193);
  return h | 0;
}
