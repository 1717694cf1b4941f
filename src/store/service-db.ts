/**
 * The service database (accounts, institutions, certificates, sessions, devices, mappings): one SQLite
 * file per node beside the ledger file. WAL with synchronous=FULL like the ledger; secure_delete so
 * deleted rows are overwritten in the file (sessions, nonces, later payload chunks); a busy timeout
 * because `kenshin admin` may write while the server runs.
 *
 * Migrations are numbered SQL scripts applied in order inside one transaction each; the applied ones
 * are recorded in `schema_migrations`.
 */
import Database from "better-sqlite3";
import { ServiceError } from "../service/errors.js";
import { SERVICE_MIGRATIONS } from "./service-migrations.js";
import { assertSqliteRuntime } from "./sqlite-runtime.js";

export type ServiceDb = Database.Database;

/** Opens (creating when `create`) the service database and applies pending migrations. */
export function openServiceDb(path: string, options: { create: boolean }): ServiceDb {
  assertSqliteRuntime();
  let db: ServiceDb;
  try {
    db = new Database(path, { fileMustExist: !options.create });
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    db.pragma("secure_delete = ON");
    db.pragma("busy_timeout = 5000");
  } catch (cause) {
    throw new ServiceError("SERVICE_DB_UNUSABLE", "サービスのデータベースを開けません", { path }, { cause });
  }
  migrate(db);
  return db;
}

function migrate(db: ServiceDb): void {
  db.exec(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) STRICT",
  );
  const applied = new Set(
    db
      .prepare<[], { version: number }>("SELECT version FROM schema_migrations")
      .all()
      .map((r) => r.version),
  );
  const latest = SERVICE_MIGRATIONS.length;
  const newer = [...applied].filter((v) => v > latest);
  if (newer.length > 0) {
    throw new ServiceError("SERVICE_DB_UNUSABLE", "このデータベースは新しい版のプログラムで作られています", {
      versions: newer,
    });
  }
  SERVICE_MIGRATIONS.forEach((sql, i) => {
    const version = i + 1;
    if (applied.has(version)) return;
    db.transaction(() => {
      db.exec(sql);
      db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)").run(
        version,
        new Date().toISOString(),
      );
    })();
  });
}
