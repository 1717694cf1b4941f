/**
 * The record keys (受診者番号 + 実施日) seen so far, each with the line it was first seen on, for finding
 * duplicates (duplicate-keys.ts) across a whole export — and across the two halves of a parallel run
 * (key-join.ts).
 *
 * Exact and compact: a key is its parts' UTF-8 bytes joined by 0x1F, kept with its length in front in
 * a byte arena of 1 MiB segments (a full segment is never copied: growing adds one, so the arena holds
 * the keys plus less than a segment, and there is no moment with an old and a new arena side by side);
 * an entry is the key's position in the arena and its first line (8 bytes); an open-addressing table
 * of 4-byte slots finds the entry (FNV-1a of the bytes; each slot keeps the hash bits its position
 * does not say, so most probes never look at the arena). About 36 bytes per record for keys like
 * `K00000001` + `20250101` (a 1 GB export's million records: ~36 MB), no string or object per key, no
 * cryptographic hash per record, and the table moves to another thread as two typed arrays.
 */
import { ConvertError } from "./errors.js";

const SEPARATOR = 0x1f;
/** Arena segment size (positions are segment number × SEGMENT + offset). */
const SEGMENT_BITS = 20;
const SEGMENT = 1 << SEGMENT_BITS;
/** Entries per entry block: start and line, two Uint32 each. */
const BLOCK_BITS = 16;
const BLOCK = 1 << BLOCK_BITS;
/** Largest arena position + 1 an entry can name (Uint32). */
const MAX_POSITION = 2 ** 32;

/** A table as plain typed arrays (what `KeyTable.data()` gives and the constructor takes back). */
export interface KeyTableData {
  /** Length-prefixed keys, back to back. */
  readonly arena: Uint8Array;
  /** Per entry: position of its key in `arena`, first line. */
  readonly entries: Uint32Array;
  readonly count: number;
}

export class KeyTable {
  /** Per segment number: the buffer holding it and the position its byte 0 stands for. */
  private readonly segments: Buffer[] = [];
  private readonly bases: number[] = [];
  /** Where the next key goes: segment number, offset in it. */
  private segment = -1;
  private offset = SEGMENT;
  private readonly blocks: Uint32Array[] = [];
  private n = 0;
  /** 0 = empty, else (hash & ~mask) | (entry + 1); at most half full, so entry + 1 <= mask. */
  private slots = new Uint32Array(2048);
  private mask = 2047;
  /** The staged key (bytes [0, stagedLength) of `staging`) and its hash. */
  private staging = Buffer.allocUnsafe(256);
  private stagedLength = 0;
  private stagedHash = 0;
  /** What `locate` found. */
  private keyBuffer: Buffer = this.staging;
  private keyAt = 0;
  private keyLength = 0;

  constructor(data?: KeyTableData) {
    if (data === undefined) return;
    const arena = Buffer.from(data.arena.buffer, data.arena.byteOffset, data.arena.byteLength);
    this.adopt(arena);
    for (let e = 0; e < data.count; e++) {
      const start = data.entries[2 * e] ?? 0;
      const line = data.entries[2 * e + 1] ?? 0;
      this.push(start, line);
    }
    let size = 2048;
    while (size < this.n * 2 + 2) size *= 2;
    this.slots = new Uint32Array(size);
    this.mask = size - 1;
    for (let e = 0; e < this.n; e++) this.place(e, this.hashOf(e));
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
      const room = length + part.length * 3 + 1;
      if (room > this.staging.length) {
        const grown = Buffer.allocUnsafe(Math.max(room, this.staging.length * 2));
        this.staging.copy(grown, 0, 0, length);
        this.staging = grown;
      }
      if (k > 0) this.staging[length++] = SEPARATOR;
      length += this.staging.write(part, length, "utf8");
    }
    this.stagedLength = length;
    this.stagedHash = fnv1a(this.staging, 0, length);
    return true;
  }

  /** The entry holding the staged key, or -1. */
  findStaged(): number {
    return this.find(this.staging, 0, this.stagedLength, this.stagedHash);
  }

  /** Adds the staged key (the caller found it absent), first seen on `line`; returns its entry. */
  addStaged(line: number): number {
    const length = this.stagedLength;
    const need = prefixBytes(length) + length;
    if (this.offset + need > SEGMENT) this.open(need);
    const buffer = this.segments[this.segment] as Buffer;
    const start = (this.bases[this.segment] ?? 0) + this.offset;
    if (start + need > MAX_POSITION) {
      throw new ConvertError(
        "CONVERT_INPUT_UNREADABLE",
        "記録の数が多すぎて、受診者番号と実施日の重複を確かめられません。ファイルを分けてください",
        { records: this.n },
      );
    }
    const at = writePrefix(buffer, this.offset, length);
    this.staging.copy(buffer, at, 0, length);
    this.offset = at + length;
    const e = this.push(start, line);
    if ((this.n + 1) * 2 > this.slots.length) this.rehash();
    else this.place(e, this.stagedHash);
    return e;
  }

  /** The line entry `e` was first seen on. */
  lineOf(e: number): number {
    return this.blocks[e >>> BLOCK_BITS]?.[2 * (e & (BLOCK - 1)) + 1] ?? 0;
  }

  /** The entry of `other` that holds the key of this table's entry `e`, or -1. */
  findIn(other: KeyTable, e: number): number {
    const { buffer, at, length } = this.keyOf(e);
    return other.find(buffer, at, length, fnv1a(buffer, at, at + length));
  }

  /** The table as typed arrays (copies: the table can go on growing). */
  data(): KeyTableData {
    let bytes = 0;
    for (let e = 0; e < this.n; e++) {
      const { length } = this.keyOf(e);
      bytes += prefixBytes(length) + length;
    }
    // Its own memory, never a slice of Node's shared pool (small sizes): the parallel worker transfers it.
    const arena = Buffer.allocUnsafeSlow(bytes);
    const entries = new Uint32Array(2 * this.n);
    let used = 0;
    for (let e = 0; e < this.n; e++) {
      const { buffer, at, length } = this.keyOf(e);
      entries[2 * e] = used;
      entries[2 * e + 1] = this.lineOf(e);
      used = writePrefix(arena, used, length);
      buffer.copy(arena, used, at, at + length);
      used += length;
    }
    return { arena: new Uint8Array(arena.buffer, arena.byteOffset, used), entries, count: this.n };
  }

  private find(bytes: Uint8Array, start: number, length: number, hash: number): number {
    const { slots, mask } = this;
    const high = hash & ~mask;
    for (let s = hash & mask; ; s = (s + 1) & mask) {
      const v = slots[s] ?? 0;
      if (v === 0) return -1;
      if (((v ^ high) & ~mask) !== 0) continue;
      const e = (v & mask) - 1;
      this.locate(e);
      if (this.keyLength !== length) continue;
      const buffer = this.keyBuffer;
      const at = this.keyAt;
      let k = 0;
      while (k < length && buffer[at + k] === bytes[start + k]) k++;
      if (k === length) return e;
    }
  }

  /** Sets keyBuffer, keyAt and keyLength to entry `e`'s key (no object per look-up). */
  private locate(e: number): void {
    const start = this.blocks[e >>> BLOCK_BITS]?.[2 * (e & (BLOCK - 1))] ?? 0;
    const segment = Math.floor(start / SEGMENT);
    const buffer = this.segments[segment] as Buffer;
    let at = start - (this.bases[segment] ?? 0);
    let length = buffer[at++] ?? 0;
    if (length >= 0x80) {
      length &= 0x7f;
      for (let shift = 7; ; shift += 7) {
        const b = buffer[at++] ?? 0;
        length += (b & 0x7f) * 2 ** shift;
        if (b < 0x80) break;
      }
    }
    this.keyBuffer = buffer;
    this.keyAt = at;
    this.keyLength = length;
  }

  /** Entry `e`'s key: the buffer holding it, where its bytes start there, and their length. */
  private keyOf(e: number): { buffer: Buffer; at: number; length: number } {
    this.locate(e);
    return { buffer: this.keyBuffer, at: this.keyAt, length: this.keyLength };
  }

  private hashOf(e: number): number {
    this.locate(e);
    return fnv1a(this.keyBuffer, this.keyAt, this.keyAt + this.keyLength);
  }

  private push(start: number, line: number): number {
    const e = this.n++;
    const b = e >>> BLOCK_BITS;
    if (b === this.blocks.length) this.blocks.push(new Uint32Array(2 * BLOCK));
    const block = this.blocks[b] as Uint32Array;
    const at = 2 * (e & (BLOCK - 1));
    block[at] = start;
    block[at + 1] = line;
    return e;
  }

  private place(e: number, hash: number): void {
    const { slots, mask } = this;
    let s = hash & mask;
    while (slots[s] !== 0) s = (s + 1) & mask;
    slots[s] = ((hash & ~mask) | (e + 1)) >>> 0;
  }

  private rehash(): void {
    const size = this.slots.length * 2;
    this.slots = new Uint32Array(size);
    this.mask = size - 1;
    for (let e = 0; e < this.n; e++) this.place(e, this.hashOf(e));
  }

  /** Starts a new segment with room for `need` bytes (a key longer than a segment gets its own). */
  private open(need: number): void {
    const numbers = Math.max(1, Math.ceil(need / SEGMENT));
    this.adopt(Buffer.allocUnsafe(numbers * SEGMENT));
    this.segment = this.segments.length - numbers;
    this.offset = 0;
  }

  /** Gives `buffer` the next segment numbers (as many as it spans). */
  private adopt(buffer: Buffer): void {
    const first = this.segments.length;
    const numbers = Math.max(1, Math.ceil(buffer.length / SEGMENT));
    for (let k = 0; k < numbers; k++) {
      this.segments.push(buffer);
      this.bases.push(first * SEGMENT);
    }
  }
}

/** Bytes of the length prefix: 7 bits a byte, high bit = more follows. */
function prefixBytes(length: number): number {
  let n = 1;
  for (let rest = length; rest >= 0x80; rest = Math.floor(rest / 0x80)) n++;
  return n;
}

function writePrefix(into: Buffer, at: number, length: number): number {
  let rest = length;
  let p = at;
  while (rest >= 0x80) {
    into[p++] = (rest & 0x7f) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  into[p++] = rest;
  return p;
}

/** 32-bit FNV-1a of bytes [start, end). */
function fnv1a(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ (bytes[i] ?? 0), 0x01000193);
  return h | 0;
}
