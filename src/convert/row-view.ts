/**
 * One source row as the engine reads it: its line, its number of fields and each field's text on
 * demand. Rows from the text tokenizer (csv-tokenizer.ts) hold their fields; rows from the byte-level
 * fast path (byte-rows.ts) decode a field only when it is asked for, so the ~270 columns of a wide
 * export that a mapping ignores are never turned into strings.
 */
import type { SourceRow } from "./csv-tokenizer.js";
import { REPLACEMENT_CHAR } from "./source-decoder.js";

export interface RowView {
  readonly line: number;
  /** Number of fields. */
  readonly width: number;
  /** Text of field i (0-based), undefined past the last field. */
  field(i: number): string | undefined;
  /** True when every field is empty or white space. */
  isBlank(): boolean;
  /** True when a field holds U+FFFD (an undecodable byte sequence). */
  hasReplacement(): boolean;
  /** All fields as strings (materialised on demand for fast-path rows). */
  readonly fields: readonly string[];
}

/** A tokenizer row as a RowView. */
export class ArrayRow implements RowView {
  readonly line: number;
  readonly fields: readonly string[];

  constructor(row: SourceRow) {
    this.line = row.line;
    this.fields = row.fields;
  }

  get width(): number {
    return this.fields.length;
  }

  field(i: number): string | undefined {
    return this.fields[i];
  }

  isBlank(): boolean {
    return this.fields.every((f) => f.trim() === "");
  }

  hasReplacement(): boolean {
    return this.fields.some((f) => f.includes(REPLACEMENT_CHAR));
  }
}
