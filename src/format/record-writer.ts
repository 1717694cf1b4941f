/**
 * Writes standard records straight into one output buffer: each cell is quoted (RFC 4180) and encoded
 * (UTF-8 or CP932) in place, without building the record as a string first and without a Buffer per
 * record. The bytes are exactly those of `encodeRecord` in standard-csv.ts (a test checks it); the
 * engine takes the buffer every ~1 MB and starts a new one, so a taken chunk is never written again.
 */
import { cp932Table } from "./cp932.js";
import type { OutputEncoding } from "./output-encoding.js";
import type { StandardRecord } from "./standard-csv.js";

const COMMA = 0x2c;
const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;
const INITIAL_BYTES = 1 << 21;

export class RecordWriter {
  private readonly cp932: Int32Array | undefined;
  private buf: Buffer;
  private at = 0;

  constructor(encoding: OutputEncoding) {
    this.cp932 = encoding === "cp932" ? cp932Table() : undefined;
    this.buf = Buffer.allocUnsafe(INITIAL_BYTES);
  }

  /** Bytes written since the last take. */
  get length(): number {
    return this.at;
  }

  /** Appends bytes as they are (the header row). */
  writeRaw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.at);
    this.at += bytes.length;
  }

  /**
   * Appends one record and its CRLF; returns the record's span (without CRLF) in the current buffer,
   * valid until the next take. Cells must be final and encodable (checked by the record rules).
   */
  writeRecord(record: StandardRecord): { readonly start: number; readonly end: number } {
    const start = this.at;
    const { values, originals } = record;
    const n = values.length;
    // Two cells per item and a comma between cells; most cells are empty, so the commas are written in
    // runs (room for them is reserved once: 2n - 1 bytes).
    this.reserve(2 * n);
    for (let i = 0; i < n; i++) {
      const v = values[i] ?? "";
      const o = originals[i] ?? "";
      if (v !== "") {
        this.cell(v);
        this.reserve(2 * (n - i));
      }
      this.buf[this.at++] = COMMA;
      if (o !== "") {
        this.cell(o);
        this.reserve(2 * (n - i));
      }
      if (i + 1 < n) this.buf[this.at++] = COMMA;
    }
    const end = this.at;
    this.reserve(2);
    this.buf[this.at++] = CR;
    this.buf[this.at++] = LF;
    return { start, end };
  }

  /** The bytes of the current buffer from `start` to `end`. */
  view(start: number, end: number): Buffer {
    return this.buf.subarray(start, end);
  }

  /**
   * Hands over what was written and starts a fresh buffer — or, with `reuse`, starts again at the
   * beginning of the same one (the caller must be done with what it was given before the next write).
   */
  take(reuse = false): Buffer {
    const out = this.buf.subarray(0, this.at);
    if (!reuse) this.buf = Buffer.allocUnsafe(Math.max(INITIAL_BYTES, this.buf.length));
    this.at = 0;
    return out;
  }

  private cell(text: string): void {
    const len = text.length;
    if (len === 0) return;
    let quote = false;
    for (let i = 0; i < len; i++) {
      const c = text.charCodeAt(i);
      if (c === QUOTE || c === COMMA || c === CR || c === LF) {
        quote = true;
        break;
      }
    }
    // Worst case: every unit doubled by quoting, 3 bytes each in UTF-8, plus the two quotes.
    this.reserve(len * 6 + 2);
    if (quote) this.buf[this.at++] = QUOTE;
    const table = this.cp932;
    if (table === undefined) {
      if (quote) {
        const body = text.replaceAll('"', '""');
        this.at += this.buf.write(body, this.at, "utf8");
      } else {
        this.at += this.buf.write(text, this.at, "utf8");
      }
    } else {
      const buf = this.buf;
      let o = this.at;
      for (let i = 0; i < len; i++) {
        const c = text.charCodeAt(i);
        if (c < 0x80) {
          if (c === QUOTE && quote) buf[o++] = QUOTE;
          buf[o++] = c;
          continue;
        }
        const v = table[c] ?? -1;
        if (v < 0) throw new RangeError("text has characters CP932 cannot represent");
        if (v < 256) buf[o++] = v;
        else {
          buf[o++] = v >> 8;
          buf[o++] = v & 0xff;
        }
      }
      this.at = o;
    }
    if (quote) this.buf[this.at++] = QUOTE;
  }

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }
}
