/**
 * Multi-row INSERT statements, prepared once per table and row count: one statement call per many rows
 * is what makes a large group commit cheap (`sqlite-log.ts`), and looking a prepared statement up by a
 * short key instead of building its text (hundreds of `?`) on every call saved ≈ 6 % of a durable
 * append's CPU.
 */
import type Database from "better-sqlite3";

/** Rows per multi-row INSERT (SQLite allows 32,766 parameters; 100 rows × 3 columns is far below). */
export const ROWS_PER_INSERT = 100;

/** The multi-row INSERTs of one connection, by table and row count (≤ ROWS_PER_INSERT sizes per table). */
export class MultiRowInserts {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  /**
   * Inserts `values` (`width` per row, row after row) into `into` (`table (col, …)`) with statements
   * of up to ROWS_PER_INSERT rows each; `or` is e.g. `"OR IGNORE "`.
   */
  insert(into: string, width: number, values: readonly unknown[], or = ""): void {
    const rows = values.length / width;
    let at = 0;
    for (; rows - at / width >= ROWS_PER_INSERT; at += ROWS_PER_INSERT * width) {
      this.#statement(into, width, ROWS_PER_INSERT, or).run(values.slice(at, at + ROWS_PER_INSERT * width));
    }
    const rest = rows - at / width;
    if (rest > 0) this.#statement(into, width, rest, or).run(values.slice(at));
  }

  #statement(into: string, width: number, rows: number, or: string): Database.Statement {
    const key = `${or}${into}#${rows}`;
    let statement = this.#statements.get(key);
    if (statement === undefined) {
      const row = `(${Array.from({ length: width }, () => "?").join(", ")})`;
      statement = this.#db.prepare(
        `INSERT ${or}INTO ${into} VALUES ${Array.from({ length: rows }, () => row).join(", ")}`,
      );
      this.#statements.set(key, statement);
    }
    return statement;
  }
}
