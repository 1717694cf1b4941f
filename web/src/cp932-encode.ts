/**
 * CP932 (Windows Shift_JIS) encoding in the browser, for the Excel copies of downloads and the issue
 * list. Browsers decode Shift_JIS (the WHATWG "shift_jis" decoder is the Windows code page 932 table)
 * but do not encode it, so the table is built once by decoding every one- and two-byte code and keeping
 * the first (lowest) code for each character. Where CP932 spells a character twice (NEC-selected and
 * IBM extensions) this may pick another code than a Windows encoder; both decode to the same character,
 * so Excel shows the same text. Private-use characters (外字) are refused. test/web/cp932-encode.test.ts
 * compares the result with iconv-lite over the whole BMP.
 */

let table: Map<number, number> | undefined;

function isLead(b: number): boolean {
  return (b >= 0x81 && b <= 0x9f) || (b >= 0xe0 && b <= 0xfc);
}

function buildTable(): Map<number, number> {
  const decoder = new TextDecoder("shift_jis");
  const t = new Map<number, number>();
  for (let b = 0; b < 0x80; b++) t.set(b, b);
  for (let b = 0xa1; b <= 0xdf; b++) t.set(0xff61 + (b - 0xa1), b);
  // The single-byte best fits iconv-lite (and so the conversion engine's table) also writes.
  t.set(0x80, 0x80);
  t.set(0xa5, 0x5c); // ¥ → the yen sign of Japanese fonts
  t.set(0x203e, 0x7e); // ‾ → the overline of Japanese fonts
  const pair = new Uint8Array(2);
  for (let lead = 0x81; lead <= 0xfc; lead++) {
    if (!isLead(lead)) continue;
    for (let trail = 0x40; trail <= 0xfc; trail++) {
      if (trail === 0x7f) continue;
      pair[0] = lead;
      pair[1] = trail;
      const text = decoder.decode(pair);
      if (text.length !== 1) continue;
      const u = text.charCodeAt(0);
      // U+FFFD: no such code. Private use (外字, user-defined rows F040–F9FC): not portable, refused.
      if (u === 0xfffd || (u >= 0xe000 && u <= 0xf8ff)) continue;
      if (!t.has(u)) t.set(u, (lead << 8) | trail);
    }
  }
  return t;
}

/** Characters that CP932 writes under another code point (the Windows forms; see src/format). */
const CP932_FORMS: ReadonlyMap<number, number> = new Map([
  [0x301c, 0xff5e],
  [0x2212, 0xff0d],
  [0x2016, 0x2225],
  [0x2014, 0x2015],
  [0x00a2, 0xffe0],
  [0x00a3, 0xffe1],
  [0x00ac, 0xffe2],
]);

/** `text` in CP932, or undefined when a character has no CP932 form. */
export function encodeCp932(text: string): Uint8Array | undefined {
  table ??= buildTable();
  const out = new Uint8Array(text.length * 2);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const code = table.get(CP932_FORMS.get(unit) ?? unit);
    if (code === undefined) return undefined;
    if (code < 0x100) out[n++] = code;
    else {
      out[n++] = code >> 8;
      out[n++] = code & 0xff;
    }
  }
  return out.subarray(0, n);
}

const BOM = new Uint8Array([0xef, 0xbb, 0xbf]);

/** UTF-8 with a byte-order mark: what Excel on Japanese Windows needs to read UTF-8 CSV. */
export function encodeUtf8Bom(text: string): Uint8Array {
  const body = new TextEncoder().encode(text);
  const out = new Uint8Array(BOM.length + body.length);
  out.set(BOM);
  out.set(body, BOM.length);
  return out;
}

/** Whether `bytes` start with the UTF-8 byte-order mark. */
export function hasUtf8Bom(bytes: Uint8Array): boolean {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
}
