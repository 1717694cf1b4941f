/**
 * The `transfers` rows of service.db as the integrity check reads them and a repair writes them back:
 * all columns, by id. A repaired row replaces the damaged one in place (or is inserted when it was
 * deleted); nothing else in service.db is touched.
 */
import type Database from "better-sqlite3";

/** Every column of a `transfers` row (service-migrations.ts), as SQLite returns it. */
export type TransferRowValues = Readonly<Record<string, string | number | null>>;

export const TRANSFER_COLUMNS = [
  "id",
  "sender_id",
  "receiver_id",
  "status",
  "mapping_id",
  "original_sha256",
  "original_bytes",
  "standard_sha256",
  "standard_bytes",
  "records",
  "rows_rejected",
  "report_json",
  "created_at",
  "sent_at",
  "downloaded_at",
  "received_at",
  "deleted_at",
  "delete_after",
] as const;

/** Every transfer row, by id (one read transaction: a consistent view). */
export function* scanTransferRows(db: Database.Database): Iterable<TransferRowValues> {
  const rows = db
    .prepare<[], TransferRowValues>(`SELECT ${TRANSFER_COLUMNS.join(", ")} FROM transfers ORDER BY id`)
    .iterate();
  for (const row of rows) yield row;
}

export function readTransferRow(db: Database.Database, id: string): TransferRowValues | undefined {
  return db
    .prepare<[string], TransferRowValues>(`SELECT ${TRANSFER_COLUMNS.join(", ")} FROM transfers WHERE id = ?`)
    .get(id);
}

/** Writes `row` (every column) over the row of its id, or inserts it. */
export function replaceTransferRow(db: Database.Database, row: TransferRowValues): void {
  const values = TRANSFER_COLUMNS.map((c) => row[c] ?? null);
  const set = TRANSFER_COLUMNS.slice(1)
    .map((c) => `${c} = excluded.${c}`)
    .join(", ");
  db.prepare(
    `INSERT INTO transfers (${TRANSFER_COLUMNS.join(", ")}) VALUES (${TRANSFER_COLUMNS.map(() => "?").join(", ")})
     ON CONFLICT (id) DO UPDATE SET ${set}`,
  ).run(values);
}
