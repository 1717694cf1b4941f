/**
 * A streaming CP932 decoder: iconv-lite's, plus the last row of the user-defined area (外字).
 *
 * Why: Windows maps the whole CP932 user-defined area 0xF040–0xF9FC to the Private Use Area
 * U+E000–U+E757 (10 lead bytes × 188 trail bytes, in order). iconv-lite's table stops at 0xF940
 * (U+E69C): it decodes 0xF941–0xF9FC as U+FFFD and then reads the trail byte again as a character of
 * its own (0xF9 0x41 → "\uFFFD" + "A"), which would turn a clinic's glyph into a decode error and a
 * stray letter. Here those pairs decode to U+E69D–U+E757 like the rest of the area, so every 外字 is
 * handled the same way downstream (record-rules.ts: 〓 in the value with SOURCE_PRIVATE_USE_CHAR).
 *
 * How: iconv-lite decodes everything else and is only ever given whole characters. Character
 * boundaries are found with the decode tables built from iconv-lite itself (format/cp932.ts), so they
 * are iconv-lite's boundaries: a byte decoding alone is one character; a lead byte with a trail that
 * makes an assigned pair is two; any other lead byte is one (iconv-lite writes U+FFFD and reads the next
 * byte again — we write that U+FFFD ourselves: iconv-lite's streaming decoder drops the re-read byte
 * when such a lead byte is the last of a write, so a file's text depended on where its chunks fell). A
 * byte below 0x40 is never a trail byte, so it always starts a character: in a chunk without 0xF9 only
 * the bytes after the last such byte are looked at.
 */
import iconv from "iconv-lite";
import { cp932DecodeTables } from "../format/cp932.js";

const USER_LEAD_LAST = 0xf9;
const REPLACEMENT = "\uFFFD";
/** The first trail byte iconv-lite does not decode after 0xF9. */
const USER_TRAIL_FIRST_UNDECODED = 0x41;

function isTrail(b: number): boolean {
  return (b >= 0x40 && b <= 0x7e) || (b >= 0x80 && b <= 0xfc);
}

/** The Private Use Area code point of a CP932 user-defined pair (lead 0xF0–0xF9). */
export function userDefinedCodePoint(lead: number, trail: number): number {
  return 0xe000 + (lead - 0xf0) * 188 + (trail < 0x80 ? trail - 0x40 : trail - 0x41);
}

export class Cp932Decoder {
  private readonly inner = iconv.getDecoder("cp932");
  private readonly tables = cp932DecodeTables();
  /** A lead byte that ended the previous chunk, not yet given to iconv-lite. */
  private held = -1;

  write(chunk: Uint8Array): string {
    let bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.held >= 0) {
      bytes = Buffer.concat([Buffer.from([this.held]), bytes]);
      this.held = -1;
    }
    if (bytes.length === 0) return "";
    // Fast case: no 0xF9, so nothing to add; only the end of the chunk needs a look.
    const scanFrom = bytes.includes(USER_LEAD_LAST) ? 0 : lastCharStart(bytes);
    let out = "";
    let from = 0;
    const { single, pair } = this.tables;
    for (let i = scanFrom; i < bytes.length;) {
      const b = bytes[i] ?? 0;
      if ((single[b] ?? -1) >= 0) {
        i++;
        continue;
      }
      if (i + 1 >= bytes.length) {
        // A lead byte cut off by the end of the chunk: it waits for its trail byte.
        out += this.inner.write(bytes.subarray(from, i));
        this.held = b;
        return out;
      }
      const t = bytes[i + 1] ?? 0;
      if ((pair[(b << 8) | t] ?? 0) !== 0) {
        i += 2;
      } else if (b === USER_LEAD_LAST && t >= USER_TRAIL_FIRST_UNDECODED && isTrail(t)) {
        out += this.inner.write(bytes.subarray(from, i)) + String.fromCharCode(userDefinedCodePoint(b, t));
        i += 2;
        from = i;
      } else {
        // Not a character: U+FFFD, and the next byte is read again — written here rather than left to
        // iconv-lite, whose streaming decoder loses the next byte when such a lead byte ends a write.
        out += this.inner.write(bytes.subarray(from, i)) + REPLACEMENT;
        i++;
        from = i;
      }
    }
    return out + this.inner.write(bytes.subarray(from));
  }

  /** Flushes what is left (a lone lead byte at the very end becomes U+FFFD, as iconv-lite does). */
  end(): string {
    const held = this.held >= 0 ? REPLACEMENT : "";
    this.held = -1;
    return held + (this.inner.end() ?? "");
  }
}

/** The index of the last byte below 0x40 (always the start of a character), or 0. */
function lastCharStart(bytes: Buffer): number {
  for (let i = bytes.length - 1; i >= 0; i--) if ((bytes[i] ?? 0) < 0x40) return i;
  return 0;
}
