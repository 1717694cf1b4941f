/**
 * Prepared statements kept per database connection, for the queries every request makes (the session
 * check, the transfer list, a trail's row). better-sqlite3's `prepare` compiles the SQL each time it is
 * called — in bench/server it was the largest single cost of an authenticated GET, more than running
 * the queries it prepared.
 *
 * A kept statement is shared by every caller of the same SQL text on that connection, so callers only
 * run it (`get`, `all`, `run`): never `iterate` (a statement that is iterating cannot run again until
 * the iteration ends) and never switch its modes (`pluck`, `raw`, `expand`), which would change it for
 * every other caller.
 */
import type Database from "better-sqlite3";

const kept = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** The connection's statement for `sql`, prepared on first use. */
export function cachedStatement<P extends unknown[] = unknown[], R = unknown>(
  db: Database.Database,
  sql: string,
): Database.Statement<P, R> {
  let statements = kept.get(db);
  if (statements === undefined) {
    statements = new Map();
    kept.set(db, statements);
  }
  let statement = statements.get(sql);
  if (statement === undefined) {
    statement = db.prepare(sql);
    statements.set(sql, statement);
  }
  return statement as unknown as Database.Statement<P, R>;
}
