/**
 * Bytes of an institution's export → text, chunk by chunk, with encoding detection.
 *
 * `auto`: a BOM decides (UTF-8, UTF-16LE/BE); otherwise the first 64 KiB are tested as UTF-8 (a
 * multi-byte sequence cut at the end of the sample is allowed) and, failing that, the file is CP932,
 * which is what Japanese checkup systems write by default. Undecodable bytes become U+FFFD; the
 * engine turns rows containing it into SOURCE_DECODE_ERROR issues.
 */
import { Cp932Decoder } from "./cp932-decoder.js";
import { ConvertError } from "./errors.js";

export type DeclaredEncoding = "cp932" | "utf-8" | "auto";
export type SourceEncoding = "cp932" | "utf-8" | "utf-16le" | "utf-16be";

export const SAMPLE_BYTES = 64 * 1024;
export const REPLACEMENT_CHAR = "\uFFFD";

interface TextDecoderLike {
  write(chunk: Uint8Array): string;
  end(): string;
}

export class SourceDecoder {
  private readonly declared: DeclaredEncoding;
  private inner: TextDecoderLike | undefined;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private detectedEncoding: SourceEncoding | undefined;

  constructor(declared: DeclaredEncoding) {
    this.declared = declared;
  }

  /** The encoding in use, once known (after the first chunk for declared encodings). */
  get encoding(): SourceEncoding | undefined {
    return this.detectedEncoding;
  }

  /** Decodes the next chunk; may return "" while the sample for detection is being collected. */
  write(chunk: Uint8Array): string {
    if (this.inner) return this.inner.write(chunk);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.declared === "auto" && this.pendingBytes < SAMPLE_BYTES) return "";
    return this.start();
  }

  /** Flushes what is left (an incomplete multi-byte sequence becomes U+FFFD). */
  end(): string {
    const head = this.inner ? "" : this.start();
    return head + (this.inner ? this.inner.end() : "");
  }

  private start(): string {
    const sample = concat(this.pending, this.pendingBytes);
    this.pending = [];
    const encoding = this.choose(sample);
    this.detectedEncoding = encoding;
    this.inner = makeDecoder(encoding);
    return this.inner.write(sample);
  }

  /**
   * When the start of the file reads better in another encoding than the one in use: UTF-8 (valid,
   * with non-ASCII bytes) decoded as CP932, or CP932 (invalid as UTF-8) decoded as UTF-8. Used to turn
   * "column not found" into a hint about the declared encoding. `head`: the first bytes of the input
   * (the caller keeps them, so the answer does not depend on how the bytes reached the decoder).
   */
  likelyEncoding(input: Uint8Array): SourceEncoding | undefined {
    const head = input.subarray(0, SAMPLE_BYTES);
    if (this.detectedEncoding === undefined) return undefined;
    const nonAscii = head.some((b) => b >= 0x80);
    if (!nonAscii) return undefined;
    const utf8 = isValidUtf8Prefix(head);
    if (this.detectedEncoding === "cp932" && utf8) return "utf-8";
    if (this.detectedEncoding === "utf-8" && !utf8) return "cp932";
    return undefined;
  }

  private choose(sample: Uint8Array): SourceEncoding {
    const bom = bomOf(sample);
    switch (this.declared) {
      case "utf-8":
        if (bom !== undefined && bom !== "utf-8") throw mismatch(this.declared, bom);
        return "utf-8";
      case "cp932":
        if (bom !== undefined) throw mismatch(this.declared, bom);
        return "cp932";
      case "auto":
        return bom ?? (isValidUtf8Prefix(sample) ? "utf-8" : "cp932");
    }
  }
}

function mismatch(declared: DeclaredEncoding, bom: SourceEncoding): ConvertError {
  return new ConvertError(
    "CONVERT_ENCODING_UNSUPPORTED",
    `マッピングでは文字コード ${declared} と指定されていますが、ファイルは ${bom} (BOM 付き) です`,
    { declared, detected: bom },
  );
}

function bomOf(b: Uint8Array): SourceEncoding | undefined {
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return "utf-8";
  if (b[0] === 0xff && b[1] === 0xfe) return "utf-16le";
  if (b[0] === 0xfe && b[1] === 0xff) return "utf-16be";
  return undefined;
}

function isValidUtf8Prefix(sample: Uint8Array): boolean {
  try {
    // stream: true lets a sequence cut at the end of the sample pass.
    new TextDecoder("utf-8", { fatal: true }).decode(sample, { stream: true });
    return true;
  } catch {
    return false;
  }
}

function makeDecoder(encoding: SourceEncoding): TextDecoderLike {
  // iconv-lite's CP932 with the whole user-defined area (外字 0xF040–0xF9FC, see cp932-decoder.ts).
  if (encoding === "cp932") return new Cp932Decoder();
  // TextDecoder strips the BOM itself (ignoreBOM defaults to false).
  const d = new TextDecoder(encoding);
  return { write: (c) => d.decode(c, { stream: true }), end: () => d.decode() };
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
