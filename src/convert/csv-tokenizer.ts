/**
 * A push-based CSV tokenizer for institutions' exports: text in (any chunking), rows out.
 *
 * Hand-written rather than csv-parse because it is the hot path of every conversion (measured in
 * bench/convert) and because it must turn every malformed input into a coded row problem and go on:
 * an unclosed quote, a huge field or a row with too many columns rejects that row only, and the
 * tokenizer resynchronises at the next line. Invariant (tested by feeding one character at a time):
 * the rows and problems produced do not depend on how the text is chunked.
 *
 * Line breaks: CRLF, LF and lone CR all end a record outside quotes (exports from old systems mix them).
 */
import type { IssueCode } from "./issues.js";

export interface TokenizerOptions {
  /** One-character delimiter. */
  readonly delimiter: string;
  /** One-character quote, or null when quoting is not used. */
  readonly quote: string | null;
  /** Largest field in characters; a larger one rejects the row (SOURCE_FIELD_TOO_LARGE). */
  readonly maxFieldLength: number;
  /** Most columns in one row; more rejects the row (SOURCE_TOO_MANY_COLUMNS). */
  readonly maxColumns: number;
  /** Number of the first line fed (when lines before it were skipped); default 1. */
  readonly firstLine?: number;
}

/** One tokenized row: its fields and the 1-based line where it starts. */
export interface SourceRow {
  readonly line: number;
  readonly fields: readonly string[];
}

/** A row that could not be read; it is rejected, and reading goes on. */
export interface RowProblem {
  readonly line: number;
  readonly code: IssueCode;
  readonly message: string;
}

export interface TokenizerSink {
  row(row: SourceRow): void;
  problem(problem: RowProblem): void;
}

const CR = 13;
const LF = 10;

type State =
  | "fieldStart"
  | "unquoted"
  | "quoted"
  | "quoteInQuoted" // saw a quote inside a quoted field: escaped quote or end of field
  | "skipQuoted" // discarding an oversized quoted field until its closing quote
  | "skipQuoteInQuoted"
  | "skipLine"; // discarding the rest of a rejected row

export class CsvTokenizer {
  private readonly delim: number;
  private readonly quote: number;
  private readonly quoteChar: string;
  private readonly opts: TokenizerOptions;
  private readonly sink: TokenizerSink;

  private state: State = "fieldStart";
  private fields: string[] = [];
  /** Unquoted: the field text. Quoted: the raw text after the opening quote (escapes still doubled). */
  private field = "";
  private line = 1;
  private rowLine = 1;
  private quoteLine = 1;
  /** A CR ended the previous chunk: a following LF belongs to the same line break. */
  private pendingCr = false;
  /** Inside quoted text, the previous character was CR (so a following LF is the same break). */
  private prevCr = false;
  private ended = false;

  constructor(opts: TokenizerOptions, sink: TokenizerSink) {
    if (opts.delimiter.length !== 1) throw new RangeError("delimiter must be one character");
    if (opts.quote !== null && opts.quote.length !== 1) throw new RangeError("quote must be one character");
    this.opts = opts;
    this.sink = sink;
    this.delim = opts.delimiter.charCodeAt(0);
    this.quote = opts.quote === null ? -1 : opts.quote.charCodeAt(0);
    this.quoteChar = opts.quote ?? "";
    this.line = this.rowLine = this.quoteLine = opts.firstLine ?? 1;
  }

  /** Feeds the next piece of decoded text. */
  feed(text: string): void {
    if (this.ended) throw new Error("CsvTokenizer.feed after end");
    this.scan(text);
  }

  /** True between rows: nothing of a row is pending, so the next text starts a new line. */
  get idle(): boolean {
    return this.state === "fieldStart" && this.fields.length === 0 && !this.pendingCr && !this.ended;
  }

  /**
   * Accounts for one whole line that was read elsewhere (the engine's byte-level fast path) while
   * idle, and returns its line number, so line numbers stay those of the file.
   */
  passLine(): number {
    const line = this.line;
    this.line++;
    this.rowLine = this.line;
    return line;
  }

  /** Signals the end of input: flushes the last row and reports an unclosed quote. */
  end(): void {
    if (this.ended) return;
    switch (this.state) {
      case "quoted":
      case "quoteInQuoted":
        if (this.state === "quoteInQuoted") {
          this.closeQuoted();
          if (this.pushField(this.field)) this.endRow();
        } else {
          this.recoverUnclosedQuote();
        }
        break;
      case "skipQuoted":
      case "skipQuoteInQuoted":
        this.sink.problem({
          line: this.quoteLine,
          code: "SOURCE_UNBALANCED_QUOTE",
          message: `${this.quoteLine}行目から始まる引用符が閉じられないままファイルが終わりました。以降の内容は読み取れません`,
        });
        break;
      case "unquoted":
        if (this.pushField(this.field)) this.endRow();
        break;
      case "fieldStart":
        if (this.fields.length > 0) {
          this.pushField("");
          this.endRow();
        }
        break;
      case "skipLine":
        break;
    }
    this.ended = true;
  }

  private scan(text: string): void {
    const n = text.length;
    let i = 0;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (n > 0 && text.charCodeAt(0) === LF) i = 1;
    }
    while (i < n) {
      switch (this.state) {
        case "fieldStart": {
          const c = text.charCodeAt(i);
          if (c === this.quote) {
            this.state = "quoted";
            this.field = "";
            this.quoteLine = this.line;
            this.prevCr = false;
            i++;
          } else if (c === this.delim) {
            this.pushField("");
            i++;
          } else if (c === CR || c === LF) {
            // Otherwise the row was rejected (too many columns) and skipLine consumes the break.
            if (this.fields.length === 0 || this.pushField("")) {
              this.endRow();
              i = this.lineBreak(text, i);
            }
          } else {
            this.state = "unquoted";
            this.field = "";
          }
          break;
        }
        case "unquoted": {
          // Fast path: find the end of the field with one tight loop, then slice once.
          let j = i;
          let c = 0;
          while (j < n) {
            c = text.charCodeAt(j);
            if (c === this.delim || c === CR || c === LF) break;
            j++;
          }
          this.field = this.field === "" ? text.slice(i, j) : this.field + text.slice(i, j);
          if (this.field.length > this.opts.maxFieldLength) {
            this.rejectRow(
              "SOURCE_FIELD_TOO_LARGE",
              `項目が大きすぎます (上限 ${this.opts.maxFieldLength} 文字)`,
            );
            i = j;
            break;
          }
          if (j === n) return;
          if (!this.pushField(this.field)) {
            i = j;
            break;
          }
          this.field = "";
          if (c === this.delim) {
            this.state = "fieldStart";
            i = j + 1;
          } else {
            this.endRow();
            i = this.lineBreak(text, j);
          }
          break;
        }
        case "quoted": {
          let j = i;
          while (j < n) {
            const c = text.charCodeAt(j);
            if (c === this.quote) break;
            this.countBreak(c);
            j++;
          }
          this.field += text.slice(i, j);
          if (this.field.length > this.opts.maxFieldLength) {
            this.sink.problem({
              line: this.rowLine,
              code: "SOURCE_FIELD_TOO_LARGE",
              message: `項目が大きすぎます (上限 ${this.opts.maxFieldLength} 文字)`,
            });
            this.fields = [];
            this.field = "";
            this.state = j < n ? "skipQuoteInQuoted" : "skipQuoted";
            i = j < n ? j + 1 : j;
            break;
          }
          if (j === n) return;
          this.state = "quoteInQuoted";
          i = j + 1;
          break;
        }
        case "quoteInQuoted": {
          const c = text.charCodeAt(i);
          if (c === this.quote) {
            this.field += this.quoteChar + this.quoteChar;
            this.state = "quoted";
            i++;
          } else {
            // The field is closed. Text up to the delimiter (`"abc"def`, not RFC 4180 but seen in
            // real exports) is kept literally rather than losing the row: continue as unquoted.
            this.closeQuoted();
            this.state = "unquoted";
          }
          break;
        }
        case "skipQuoted": {
          const c = text.charCodeAt(i);
          if (c === this.quote) this.state = "skipQuoteInQuoted";
          else this.countBreak(c);
          i++;
          break;
        }
        case "skipQuoteInQuoted": {
          const c = text.charCodeAt(i);
          if (c === this.quote) {
            this.state = "skipQuoted";
            i++;
          } else {
            this.state = "skipLine";
          }
          break;
        }
        case "skipLine": {
          const c = text.charCodeAt(i);
          if (c === CR || c === LF) {
            this.fields = [];
            this.field = "";
            this.state = "fieldStart";
            i = this.lineBreak(text, i);
            this.rowLine = this.line;
          } else {
            i++;
          }
          break;
        }
      }
    }
  }

  /** Consumes the line break at `i` (CRLF, LF or CR) and returns the next index. */
  private lineBreak(text: string, i: number): number {
    this.line++;
    if (text.charCodeAt(i) === CR) {
      if (i + 1 < text.length) return text.charCodeAt(i + 1) === LF ? i + 2 : i + 1;
      this.pendingCr = true;
    }
    return i + 1;
  }

  /** Counts line breaks inside quoted text (CRLF once), chunk-boundary safe. */
  private countBreak(c: number): void {
    if (c === CR) {
      this.line++;
      this.prevCr = true;
    } else {
      if (c === LF && !this.prevCr) this.line++;
      this.prevCr = false;
    }
  }

  private closeQuoted(): void {
    const q = this.quoteChar;
    if (this.field.includes(q)) this.field = this.field.replaceAll(q + q, q);
  }

  /** Adds a field; false (and the row is rejected) when the row has too many columns. */
  private pushField(value: string): boolean {
    if (this.fields.length >= this.opts.maxColumns) {
      this.rejectRow("SOURCE_TOO_MANY_COLUMNS", `列が多すぎます (上限 ${this.opts.maxColumns} 列)`);
      return false;
    }
    this.fields.push(value);
    return true;
  }

  private endRow(): void {
    if (this.state !== "skipLine") {
      const fields = this.fields;
      if (fields.length > 0) this.sink.row({ line: this.rowLine, fields });
    }
    this.fields = [];
    this.field = "";
    this.state = "fieldStart";
    this.rowLine = this.line + 1;
  }

  private rejectRow(code: IssueCode, message: string): void {
    this.sink.problem({ line: this.rowLine, code, message });
    this.fields = [];
    this.field = "";
    this.state = "skipLine";
  }

  /**
   * End of input inside a quoted field: the quote was never closed. Reject the row it opened in and
   * read the text after that line again as ordinary rows, so one stray quote loses one row, not the
   * rest of the file. The raw field text is at most maxFieldLength, so this is bounded.
   */
  private recoverUnclosedQuote(): void {
    this.sink.problem({
      line: this.rowLine,
      code: "SOURCE_UNBALANCED_QUOTE",
      message: "引用符が閉じられていません。この行を読み飛ばしました",
    });
    const raw = this.field;
    let k = 0;
    while (k < raw.length && raw.charCodeAt(k) !== LF && raw.charCodeAt(k) !== CR) k++;
    const nextLine = this.quoteLine + 1;
    this.fields = [];
    this.field = "";
    this.state = "fieldStart";
    this.pendingCr = false;
    if (k >= raw.length) return;
    const restStart = raw.charCodeAt(k) === CR && raw.charCodeAt(k + 1) === LF ? k + 2 : k + 1;
    this.line = nextLine;
    this.rowLine = nextLine;
    this.scan(raw.slice(restStart));
    this.end();
  }
}
