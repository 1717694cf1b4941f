/**
 * How a connection to a ledger file is opened (`sqlite-log.ts`): its pragmas, which carry the ledger's
 * durability and its write costs.
 *
 * Durability: WAL with `synchronous = FULL`, so each commit fsyncs the WAL before returning — an
 * acknowledged batch survives kill -9 and power loss (NORMAL would only survive a process crash).
 * https://www.sqlite.org/pragma.html#pragma_synchronous · https://www.sqlite.org/wal.html
 */
import Database from "better-sqlite3";
import { LedgerError } from "../ledger/errors.js";
import { assertSqliteRuntime } from "./sqlite-runtime.js";

/** Page size of new ledger files. https://www.sqlite.org/pragma.html#pragma_page_size */
export const PAGE_BYTES = 16 * 1024;

/**
 * Opens `path` with the ledger's pragmas (a new file, `mustExist` false, also gets its page size).
 * @throws LedgerError LEDGER_DB_UNUSABLE
 */
export function openLogDatabase(path: string, mustExist: boolean): Database.Database {
  assertSqliteRuntime();
  try {
    const db = new Database(path, { fileMustExist: mustExist });
    // A new file gets 16 KiB pages (before WAL mode fixes the size): a batch's inserts into the hash
    // indexes land on random pages, and fewer, larger pages cost less per batch to write and fsync than
    // many small ones (≈ 25 % less CPU per durable append measured at 300,000 entries). Older files keep
    // the page size they were made with.
    if (!mustExist) db.pragma(`page_size = ${PAGE_BYTES}`);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    // Another process on the node (kenshin admin beside the server) waits for the write lock.
    db.pragma("busy_timeout = 10000");
    // The leaf-hash and record-hash indexes take inserts at random places: a 16 MiB page cache keeps
    // their inner pages in memory, and checkpointing the WAL every 4,096 pages (16–64 MiB) rather than
    // 1,000 spares a large batch several checkpoint fsyncs. (64 MiB filled up with the million
    // record-hash rows of a 1 GB upload and stayed resident: 309 against 262 MB server peak, README.)
    db.pragma("cache_size = -16384");
    db.pragma("wal_autocheckpoint = 4096");
    return db;
  } catch (cause) {
    throw new LedgerError("LEDGER_DB_UNUSABLE", "台帳ファイルを開けません", {}, { cause });
  }
}
