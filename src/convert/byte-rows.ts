/**
 * The engine's fast path: reads the rows of a CP932 or UTF-8 export straight from its bytes, without
 * decoding the whole file into text and without making a string of every field.
 *
 * Why this is exact: in both encodings the bytes of the delimiter, the quote, CR and LF (all ASCII)
 * only ever stand for themselves (CP932 trail bytes are 0x40–0x7E and 0x80–0xFC, UTF-8 continuation
 * bytes are ≥ 0x80), and a two-byte CP932 character is skipped as a whole, so a delimiter such as "|"
 * inside one is never taken for a separator. A line is read here only when it is simple: fields either
 * unquoted without a quote byte, or quoted on one line (an escaped quote "" allowed) and followed by the
 * delimiter or the line break; every byte sequence decodes (no U+FFFD); no more fields than the limit
 * and no field over the size limit. Any other line — and every line while the text path is in the middle of a row, still skipping
 * banner lines or reading the header — goes to the text path (decoder → line skipper → CsvTokenizer)
 * unchanged, which stays the reference for what a row is. A property test (engine-fast-path.test.ts)
 * checks that both paths give the same output, report and hashes on random inputs and chunkings.
 */
import { isUtf8 } from "node:buffer";
import { cp932DecodeTables } from "../format/cp932.js";
import { ByteRow, ESCAPED, HIGH, MAX_FAST_COLUMNS } from "./byte-row.js";

export { ByteRow } from "./byte-row.js";

const CR = 13;
const LF = 10;
/** A line longer than this without its end is handed to the text path (which streams it). */
const MAX_CARRY = 4 << 20;
const UTF8_REPLACEMENT = Buffer.from([0xef, 0xbf, 0xbd]);
/** Most lines handed to the text path in one go while it is inside a row (doubles up to this). */
const MAX_SLOW_BATCH = 256;

export interface ByteRowOptions {
  /** One ASCII byte. */
  readonly delimiter: number;
  /** One ASCII byte, or -1. */
  readonly quote: number;
  readonly maxColumns: number;
  readonly maxFieldLength: number;
}

export interface ByteRowSink {
  /**
   * The source encoding when the text path is between rows (so the next line may be read here) and
   * the encoding allows the fast path; undefined otherwise.
   */
  ready(): "cp932" | "utf-8" | undefined;
  /** Bytes for the text path, in file order. */
  slow(bytes: Buffer): void;
  /** An empty line read here. */
  empty(): void;
  /** A row read here; `row` and its buffer are only valid during the call. */
  row(row: ByteRow): void;
}

/** True when the fast path can read exports with these options. */
export function fastPathApplies(delimiter: string, quote: string | null): boolean {
  const ascii = (c: string) => c.length === 1 && c.charCodeAt(0) < 0x80 && c !== "\r" && c !== "\n";
  if (!ascii(delimiter) || (quote !== null && (!ascii(quote) || quote === delimiter))) return false;
  // CP932 decodes ASCII bytes as themselves in iconv-lite; guard it, since field text relies on it.
  const { single } = cp932DecodeTables();
  for (let b = 0; b < 0x80; b++) if (single[b] !== b) return false;
  return true;
}

/** Splits bytes into lines and reads the simple ones as rows (see the module comment). */
export class ByteRowReader {
  private readonly opts: ByteRowOptions;
  private readonly sink: ByteRowSink;
  private readonly row = new ByteRow();
  private readonly single: Int32Array;
  private readonly pair: Uint16Array;
  private readonly columnCap: number;
  /** 1 for an ASCII byte that is not the delimiter, the quote, CR or LF. */
  private readonly plain = new Uint8Array(256);
  /** For the skipped columns: 0 ASCII above space, 1 other ASCII but CR/LF, 2 the delimiter, 3 the rest. */
  private readonly tailClass = new Uint8Array(256).fill(3);
  /** Fields read with bounds before the rest of a line is only counted (0: every field). */
  private tailFrom = 0;
  /** The width a line must have for its skipped columns to stand (others are read again whole). */
  private tailWidth = 0;
  private carry: Buffer | undefined;
  // Cached positions of the next CR / LF in the current buffer (for lines handed to the text path).
  private nextCr = -1;
  private nextLf = -1;
  private slowBatch = 1;
  /** A partial line went to the text path: it must get the rest of that line too. */
  private midLine = false;

  constructor(opts: ByteRowOptions, sink: ByteRowSink) {
    this.opts = opts;
    this.sink = sink;
    this.row.quoteChar = opts.quote < 0 ? "" : String.fromCharCode(opts.quote);
    const t = cp932DecodeTables();
    this.single = t.single;
    this.pair = t.pair;
    this.columnCap = Math.min(opts.maxColumns, MAX_FAST_COLUMNS);
    for (let b = 0; b < 0x80; b++) {
      if (b !== opts.delimiter && b !== opts.quote && b !== CR && b !== LF) {
        this.plain[b] = 1;
        this.tailClass[b] = b > 0x20 ? 0 : 1;
      }
    }
    this.tailClass[opts.delimiter] = 2;
  }

  /**
   * Rows need bounds only for fields 0…`last`: the rest of a line is then checked and counted, not
   * bounded — when it has no quote, only bytes that decode, an ASCII character other than white space
   * and control bytes, no field over the size limit and the line ends with exactly `width` fields.
   * Any other line is read whole as before. -1: every field (the default).
   */
  skipAfter(last: number, width: number): void {
    this.tailFrom = last < 0 ? 0 : last + 1;
    this.tailWidth = width;
  }

  feed(chunk: Uint8Array): void {
    const view = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let buf = view;
    const carry = this.carry;
    this.carry = undefined;
    if (carry) {
      // Only the line the last chunk cut is joined: the carry and this chunk up to its first LF (not a
      // copy of the whole chunk each time). What that line leaves unread, if anything, goes with the rest.
      const lf = view.indexOf(LF);
      if (lf < 0) buf = Buffer.concat([carry, view]);
      else {
        const head = Buffer.concat([carry, view.subarray(0, lf + 1)]);
        const read = this.consume(head);
        const rest = view.subarray(lf + 1);
        buf = read === head.length ? rest : Buffer.concat([head.subarray(read), rest]);
      }
    }
    const pos = this.consume(buf);
    if (pos < buf.length) {
      const rest = buf.subarray(pos);
      if (rest.length > MAX_CARRY) {
        this.sink.slow(rest); // the text path streams a long line itself
        this.midLine = true;
      } else this.carry = Buffer.from(rest); // a copy: the caller may reuse its buffer
    }
  }

  /** Reads the whole lines of `buf` (rows here, the rest to the text path); returns where it stopped. */
  private consume(buf: Buffer): number {
    this.nextCr = this.nextLf = -1;
    const n = buf.length;
    let pos = 0;
    while (pos < n) {
      const encoding = this.midLine ? undefined : this.sink.ready();
      if (encoding === undefined) {
        // Inside a row (or before the header): hand the text path whole lines, more at a time while
        // it stays busy, so a file the fast path cannot read costs few calls.
        let end = pos;
        for (let k = 0; k < this.slowBatch; k++) {
          const e = this.lineEnd(buf, end);
          if (e < 0) break;
          end = e;
          if (end >= n) break;
        }
        if (end === pos) break; // no whole line left: keep the rest for the next chunk
        this.slowBatch = Math.min(this.slowBatch * 2, MAX_SLOW_BATCH);
        this.sink.slow(buf.subarray(pos, end));
        this.midLine = false;
        pos = end;
        continue;
      }
      this.slowBatch = 1;
      this.row.utf8 = encoding === "utf-8";
      const next = this.scan(buf, pos, encoding === "cp932", this.tailFrom);
      if (next === -1) break;
      if (next < -1) {
        this.sink.slow(buf.subarray(pos, -next - 2));
        pos = -next - 2;
      } else {
        if (this.row.width === 0) this.sink.empty();
        else this.sink.row(this.row);
        pos = next;
      }
    }
    return pos;
  }

  /** True when no partial line is held (the input so far ended at a line break). */
  get idle(): boolean {
    return this.carry === undefined && !this.midLine;
  }

  /** End of input: a last line without a line break goes to the text path, which ends the file. */
  end(): void {
    if (this.carry) this.sink.slow(this.carry);
    this.carry = undefined;
  }

  /** Index after the line break that ends the line at `pos`, or -1 when the buffer ends first. */
  private lineEnd(buf: Buffer, pos: number): number {
    if (this.nextLf !== -2 && this.nextLf < pos) this.nextLf = buf.indexOf(LF, pos);
    if (this.nextLf === -1) this.nextLf = -2;
    if (this.nextCr !== -2 && this.nextCr < pos) this.nextCr = buf.indexOf(CR, pos);
    if (this.nextCr === -1) this.nextCr = -2;
    const lf = this.nextLf;
    const cr = this.nextCr;
    if (cr >= 0 && (lf < 0 || cr < lf)) {
      if (cr + 1 >= buf.length) return -1;
      return buf[cr + 1] === LF ? cr + 2 : cr + 1;
    }
    return lf >= 0 ? lf + 1 : -1;
  }

  /**
   * Reads the line at `pos` into `this.row`. Returns the index after its line break; -1 when the buffer
   * ends first; or -(end + 2) when the line must go to the text path (end = index after its break).
   */
  private scan(buf: Buffer, pos: number, cp932: boolean, tailFrom: number): number {
    const row = this.row;
    const { starts, ends, flags } = row;
    const delim = this.opts.delimiter;
    const quote = this.opts.quote;
    const maxField = this.opts.maxFieldLength;
    const cap = this.columnCap;
    const single = this.single;
    const pair = this.pair;
    const plain = this.plain;
    const n = buf.length;
    let ok = true;
    let anyHigh = false;
    let skipped = false;
    let k = 0;
    let i = pos;
    let b = 0;
    // One iteration per field.
    for (;;) {
      if (i >= n) return -1;
      let f = 0;
      b = buf[i] ?? 0;
      if (b === quote) {
        // A quoted field on one line: up to the closing quote, "" standing for one quote.
        i++;
        starts[k] = i;
        for (;;) {
          if (i >= n) return -1;
          b = buf[i] ?? 0;
          if (b === quote) {
            if (i + 1 >= n) return -1;
            if (buf[i + 1] !== quote) break;
            f |= ESCAPED;
            i += 2;
          } else if (b < 0x80) {
            if (b === LF || b === CR) ok = false; // a line break inside quotes: the text path
            i++;
            if (!ok) break;
          } else {
            f |= HIGH;
            if (!cp932) i++;
            else if ((single[b] ?? -1) >= 0) i++;
            else if (i + 1 >= n) return -1;
            else if (pair[(b << 8) | (buf[i + 1] ?? 0)] !== 0) i += 2;
            else {
              ok = false;
              i++;
            }
          }
        }
        ends[k] = i;
        if (ok) {
          i++; // the closing quote
          if (i >= n) return -1;
          b = buf[i] ?? 0;
          if (b !== delim && b !== LF && b !== CR) ok = false; // "abc"def: the text path
        }
      } else {
        starts[k] = i;
        for (;;) {
          // Ordinary ASCII bytes (most of a field), skipped with one test each.
          while (plain[b] === 1) {
            if (++i >= n) return -1;
            b = buf[i] ?? 0;
          }
          if (b === delim) break;
          if (b < 0x80) {
            if (b === LF || b === CR) break;
            if (b === quote) ok = false;
            i++;
          } else {
            f |= HIGH;
            if (!cp932) i++;
            else if ((single[b] ?? -1) >= 0) i++;
            else if (i + 1 >= n)
              return -1; // the trail byte is in the next chunk
            else if (pair[(b << 8) | (buf[i + 1] ?? 0)] !== 0) i += 2;
            else {
              ok = false;
              i++;
            }
          }
          if (i >= n) return -1;
          b = buf[i] ?? 0;
        }
        ends[k] = i;
      }
      if (!ok) break;
      flags[k] = f;
      if (f & HIGH) anyHigh = true;
      if ((ends[k] ?? 0) - (starts[k] ?? 0) > maxField) {
        ok = false;
        break;
      }
      k++;
      if (b !== delim) break;
      if (k >= cap) {
        ok = false; // more fields than the fast path holds or the limit allows: the text path decides
        break;
      }
      i++;
      if (k === tailFrom) {
        // The columns no rule reads: counted in one pass; anything unusual reads the line whole.
        const tail = this.tailClass;
        let fields = k + 1;
        let fieldStart = i;
        let text = false;
        for (;;) {
          if (i >= n) return -1;
          const t = buf[i] ?? 0;
          const c = tail[t] ?? 3;
          if (c === 0) text = true;
          else if (c === 2) {
            if (i - fieldStart > maxField || fields >= cap) break;
            fields++;
            fieldStart = i + 1;
          } else if (c === 3) {
            if (t < 0x80) break; // the quote, CR or LF
            // A character as in a field above (checked for UTF-8 with the whole line below).
            anyHigh = true;
            if (cp932 && (single[t] ?? -1) < 0) {
              if (i + 1 >= n) return -1;
              if (pair[(t << 8) | (buf[i + 1] ?? 0)] === 0) break;
              i++;
            }
          }
          i++;
        }
        b = buf[i] ?? 0;
        if (!text || (b !== LF && b !== CR) || i - fieldStart > maxField || fields !== this.tailWidth)
          return this.scan(buf, pos, cp932, 0);
        k = fields;
        skipped = true;
        break;
      }
    }
    if (!ok) {
      const end = this.lineEnd(buf, i);
      return end < 0 ? -1 : -(end + 2);
    }
    // b is CR or LF at i.
    const lineEnd = i;
    let next: number;
    if (b === CR) {
      if (i + 1 >= n) return -1;
      next = buf[i + 1] === LF ? i + 2 : i + 1;
    } else next = i + 1;
    if (anyHigh && !cp932) {
      const line = buf.subarray(pos, lineEnd);
      if (!isUtf8(line) || line.indexOf(UTF8_REPLACEMENT) >= 0) return -(next + 2);
    }
    row.buf = buf;
    row.width = lineEnd === pos ? 0 : k;
    row.scanned = skipped ? tailFrom : row.width;
    return next;
  }
}
