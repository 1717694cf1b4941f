/**
 * The SHA-256 of every record written, kept as 32 bytes each in one growing buffer (a 1 GB export has a
 * million records: 32 MB here, against ~90 MB as a million hex strings). The hex strings the
 * summary's `recordHashes` gives are made only when someone reads them.
 */
export class RecordDigests {
  private buf = new Uint8Array(32 * 1024);
  private n = 0;

  get length(): number {
    return this.n;
  }

  push(digest: Uint8Array): void {
    this.room();
    this.buf.set(digest, this.n * 32);
    this.n++;
  }

  /**
   * Appends a digest given as a latin1 ("binary") string, one char per byte: `hash(…, "binary")` is about twice as
   * fast per record as getting a Buffer back.
   */
  pushLatin1(digest: string): void {
    this.room();
    this.view.write(digest, this.n * 32, 32, "latin1");
    this.n++;
  }

  private view = Buffer.from(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);

  private room(): void {
    if ((this.n + 1) * 32 <= this.buf.length) return;
    const grown = new Uint8Array(this.buf.length * 2);
    grown.set(this.buf.subarray(0, this.n * 32));
    this.buf = grown;
    this.view = Buffer.from(grown.buffer, grown.byteOffset, grown.byteLength);
  }

  /** The digests, 32 bytes each, in record order. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.n * 32);
  }
}

/** Lower-case hex of each 32-byte digest in `bytes`. */
export function digestsToHex(bytes: Uint8Array): string[] {
  const out: string[] = [];
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + 32 <= b.length; at += 32) out.push(b.toString("hex", at, at + 32));
  return out;
}

/**
 * Gives `target` a `recordHashes` property (enumerable, so copies and comparisons see it) that turns
 * the digests into hex strings on first read.
 */
export function withRecordHashes<T extends object>(
  target: T,
  digests: Uint8Array,
): T & { readonly recordDigests: Uint8Array; readonly recordHashes: readonly string[] } {
  let hex: string[] | undefined;
  Object.defineProperty(target, "recordDigests", { value: digests, enumerable: false });
  Object.defineProperty(target, "recordHashes", {
    enumerable: true,
    get: () => (hex ??= digestsToHex(digests)),
  });
  return target as T & { readonly recordDigests: Uint8Array; readonly recordHashes: readonly string[] };
}
