/**
 * Drops the first N physical lines of a text stream (export banners, titles) before CSV parsing, so
 * that whatever they contain (stray quotes included) cannot disturb the tokenizer. Chunk-safe.
 */
export class LineSkipper {
  private remaining: number;
  private afterCr = false;

  constructor(lines: number) {
    this.remaining = lines;
  }

  /** True once every line to skip has gone (and no CR waits for its LF). */
  get done(): boolean {
    return this.remaining === 0 && !this.afterCr;
  }

  /** Returns the part of `text` after the skipped lines ("" while still skipping). */
  take(text: string): string {
    if (this.remaining === 0) {
      if (this.afterCr && text !== "") {
        this.afterCr = false;
        return text.startsWith("\n") ? text.slice(1) : text;
      }
      return text;
    }
    let i = 0;
    if (this.afterCr && text.startsWith("\n")) i = 1;
    this.afterCr = false;
    while (i < text.length && this.remaining > 0) {
      const c = text.charCodeAt(i);
      if (c === 10) this.remaining--;
      else if (c === 13) {
        this.remaining--;
        if (text.charCodeAt(i + 1) === 10) i++;
        else if (i + 1 === text.length) this.afterCr = true;
      }
      i++;
    }
    return this.remaining === 0 ? this.take(text.slice(i)) : "";
  }
}
