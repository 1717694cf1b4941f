/**
 * Bytes that arrive piece by piece (a file being sealed, a download being opened) gathered into one
 * Blob without the page ever holding them all as arrays: the pieces are folded into the Blob every
 * `foldBytes`, after which the browser's blob store holds them (Chromium keeps large blobs out of the
 * page's memory and pages them to disk) and the arrays can be collected. `new Blob([blob, …pieces])`
 * refers to the earlier Blob's bytes; it does not copy them back into the page.
 */
export class BlobSpill {
  readonly #type: string;
  readonly #foldBytes: number;
  #blob: Blob;
  #pieces: Uint8Array[] = [];
  #held = 0;
  #size = 0;

  constructor(type: string, foldBytes = 8 * 1024 * 1024) {
    this.#type = type;
    this.#foldBytes = foldBytes;
    this.#blob = new Blob([], { type });
  }

  /** Bytes added so far. */
  get size(): number {
    return this.#size;
  }

  /** Bytes held as arrays, not yet folded into the Blob (never more than `foldBytes` plus one piece). */
  get held(): number {
    return this.#held;
  }

  /** Adds a piece (kept as it is until the next fold: the caller must not reuse its memory). */
  add(piece: Uint8Array): void {
    if (piece.length === 0) return;
    this.#pieces.push(piece);
    this.#held += piece.length;
    this.#size += piece.length;
    if (this.#held >= this.#foldBytes) this.#fold();
  }

  /** The Blob of every byte added, in order. */
  finish(): Blob {
    this.#fold();
    return this.#blob;
  }

  #fold(): void {
    if (this.#pieces.length === 0) return;
    this.#blob = new Blob([this.#blob, ...(this.#pieces as BlobPart[])], { type: this.#type });
    this.#pieces = [];
    this.#held = 0;
  }
}
