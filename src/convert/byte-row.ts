/**
 * One row read by the byte-level fast path (byte-rows.ts): field bounds into the reader's current
 * buffer, each field decoded to a string only when asked for.
 */
import { cp932DecodeTables } from "../format/cp932.js";
import type { RowView } from "./row-view.js";

export const MAX_FAST_COLUMNS = 4096;
/** Field flags: a byte ≥ 0x80 in it; quoted with an escaped quote inside. */
export const HIGH = 1;
export const ESCAPED = 2;

/** One fast-path row: field boundaries into the current buffer, decoded on demand. */
export class ByteRow implements RowView {
  line = 0;
  width = 0;
  buf: Buffer = Buffer.alloc(0);
  readonly starts = new Int32Array(MAX_FAST_COLUMNS + 1);
  readonly ends = new Int32Array(MAX_FAST_COLUMNS + 1);
  /** Per field: bit 1 = has a byte ≥ 0x80, bit 2 = quoted with an escaped quote inside. */
  readonly flags = new Uint8Array(MAX_FAST_COLUMNS + 1);
  utf8 = false;
  quoteChar = "";
  /**
   * Fields with bounds: `width`, or fewer when the reader skipped the columns past the last one the
   * mapping reads (`ByteRowReader.skipAfter`; those fields then hold an ASCII character: not blank).
   */
  scanned = 0;
  private scratch = new Uint16Array(256);

  field(i: number): string | undefined {
    if (i >= this.scanned || i < 0) {
      if (i < this.width && i >= 0) throw new RangeError("field past the columns read");
      return undefined;
    }
    const s = this.starts[i] ?? 0;
    const e = this.ends[i] ?? 0;
    if (s === e) return "";
    const flags = this.flags[i] ?? 0;
    const text =
      (flags & HIGH) === 0
        ? this.buf.toString("latin1", s, e)
        : this.utf8
          ? this.buf.toString("utf8", s, e)
          : this.cp932(s, e);
    if ((flags & ESCAPED) === 0) return text;
    const q = this.quoteChar;
    return text.replaceAll(q + q, q);
  }

  isBlank(): boolean {
    if (this.scanned < this.width) return false; // the skipped columns hold a character
    for (let i = 0; i < this.width; i++) {
      const s = this.starts[i] ?? 0;
      if (s === this.ends[i]) continue;
      const b = this.buf[s] ?? 0;
      if (b > 0x20 && b < 0x80) return false;
      if ((this.field(i) ?? "").trim() !== "") return false;
    }
    return true;
  }

  hasReplacement(): boolean {
    return false; // lines with an undecodable sequence go to the text path
  }

  get fields(): readonly string[] {
    if (this.scanned < this.width) throw new RangeError("fields past the columns read");
    const out: string[] = [];
    for (let i = 0; i < this.width; i++) out.push(this.field(i) ?? "");
    return out;
  }

  private cp932(s: number, e: number): string {
    const { single, pair } = cp932DecodeTables();
    if (this.scratch.length < e - s) this.scratch = new Uint16Array(e - s);
    const out = this.scratch;
    const buf = this.buf;
    let n = 0;
    for (let i = s; i < e;) {
      const b = buf[i] ?? 0;
      const u = single[b] ?? -1;
      if (u >= 0) {
        out[n++] = u;
        i++;
      } else {
        out[n++] = pair[(b << 8) | (buf[i + 1] ?? 0)] ?? 0xfffd;
        i += 2;
      }
    }
    let text = "";
    for (let k = 0; k < n; k += 8192) {
      text += String.fromCharCode.apply(null, out.subarray(k, Math.min(n, k + 8192)) as unknown as number[]);
    }
    return text;
  }
}
