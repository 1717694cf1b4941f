/**
 * Encrypted payload chunks by content address (lower-case hex SHA-256 of the chunk's bytes), in their
 * own SQLite file: what nodes exchange over the peer transport and what the offline backup node keeps.
 * The bytes are ciphertext the store never opens (it has no key). A chunk is stored only if its bytes
 * hash to its address, so a copy here is never silently wrong; `put` returns once SQLite has synced
 * (WAL, synchronous=FULL), which is what "holds the payload durably" means for the upload quorum.
 * Deletion is physical: secure_delete overwrites the freed pages, and the WAL is checkpointed and
 * truncated after a delete so the old bytes do not linger there.
 */
import { createHash } from "node:crypto";
import Database from "better-sqlite3";
import { StoreError } from "./errors.js";
import { assertSqliteRuntime } from "./sqlite-runtime.js";

/** Upper bound of one chunk (the payload store writes far smaller chunks). */
export const MAX_CHUNK_BYTES = 8 * 1024 * 1024;

const ADDRESS = /^[0-9a-f]{64}$/;

export interface ChunkStore {
  /** True when the chunk is held. */
  has(address: string): boolean;
  /** The chunk's bytes, re-hashed before they are returned; undefined when not held. */
  get(address: string): Uint8Array | undefined;
  /** Stores a chunk (idempotent). Returns false when it was already held. */
  put(address: string, bytes: Uint8Array): boolean;
  /** Physically deletes a chunk. Returns false when it was not held. */
  delete(address: string): boolean;
  /** Number of chunks held. */
  count(): number;
  /** Every address held, ascending (for the rolling integrity check). */
  addresses(): Iterable<string>;
  /** Up to `limit` addresses held after `after` (exclusive; "" from the start), ascending. */
  addressesAfter(after: string, limit: number): string[];
  close(): void;
}

/** SHA-256 of the bytes as the chunk address. */
export function chunkAddress(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * @throws StoreError STORE_CHUNK_ADDRESS_INVALID
 */
export function checkChunkAddress(address: unknown): string {
  if (typeof address !== "string" || !ADDRESS.test(address)) {
    throw new StoreError("STORE_CHUNK_ADDRESS_INVALID", "チャンクのアドレスが正しくありません", {
      expected: "64 lower-case hex digits",
    });
  }
  return address;
}

/**
 * Opens (creating it when missing) a chunk store file.
 * @throws StoreError STORE_CHUNK_DB_UNUSABLE, STORE_RUNTIME_UNSUPPORTED
 */
export function openChunkStore(path: string): ChunkStore {
  assertSqliteRuntime();
  let db: Database.Database;
  try {
    db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("secure_delete = ON");
    db.pragma("busy_timeout = 5000");
    db.exec(
      "CREATE TABLE IF NOT EXISTS chunks (address TEXT PRIMARY KEY, bytes BLOB NOT NULL) STRICT, WITHOUT ROWID",
    );
  } catch (cause) {
    throw new StoreError("STORE_CHUNK_DB_UNUSABLE", "チャンクのデータベースを開けません", {}, { cause });
  }
  const select = db.prepare<[string], { bytes: Buffer }>("SELECT bytes FROM chunks WHERE address = ?");
  const exists = db.prepare<[string], { one: number }>("SELECT 1 AS one FROM chunks WHERE address = ?");
  const insert = db.prepare<[string, Buffer]>(
    "INSERT INTO chunks (address, bytes) VALUES (?, ?) ON CONFLICT (address) DO NOTHING",
  );
  const remove = db.prepare<[string]>("DELETE FROM chunks WHERE address = ?");
  const total = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM chunks");
  const list = db.prepare<[], { address: string }>("SELECT address FROM chunks ORDER BY address");
  const page = db.prepare<[string, number], { address: string }>(
    "SELECT address FROM chunks WHERE address > ? ORDER BY address LIMIT ?",
  );

  return {
    has: (address) => exists.get(checkChunkAddress(address)) !== undefined,
    get(address) {
      const row = select.get(checkChunkAddress(address));
      if (row === undefined) return undefined;
      const bytes = new Uint8Array(row.bytes);
      // A chunk edited in the file is reported, never served (issue 11 repairs it from a peer).
      if (chunkAddress(bytes) !== address) {
        throw new StoreError("STORE_CHUNK_HASH_MISMATCH", "保存されたチャンクがアドレスと一致しません", {
          address,
        });
      }
      return bytes;
    },
    put(address, bytes) {
      checkChunkAddress(address);
      if (bytes.length > MAX_CHUNK_BYTES) {
        throw new StoreError("STORE_CHUNK_TOO_LARGE", "チャンクが大きすぎます", {
          size: bytes.length,
          max: MAX_CHUNK_BYTES,
        });
      }
      if (chunkAddress(bytes) !== address) {
        throw new StoreError("STORE_CHUNK_HASH_MISMATCH", "チャンクの内容がアドレスと一致しません", {
          address,
        });
      }
      return insert.run(address, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).changes === 1;
    },
    delete(address) {
      const deleted = remove.run(checkChunkAddress(address)).changes === 1;
      if (deleted) db.pragma("wal_checkpoint(TRUNCATE)");
      return deleted;
    },
    count: () => total.get()?.n ?? 0,
    *addresses() {
      // Collected first: the caller may repair (delete + put) while walking.
      const all = list.all().map((r) => r.address);
      yield* all;
    },
    addressesAfter: (after, limit) => page.all(after, limit).map((r) => r.address),
    close: () => {
      db.close();
    },
  };
}
