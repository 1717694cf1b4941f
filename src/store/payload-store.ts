/**
 * Payloads at rest: encrypted chunks in the service database, never files.
 *
 * Each transfer has one data key (DEK, `transfer_keys`, wrapped by the KEK); each stored payload (the
 * original export or the standard CSV) is cut into chunks sealed with AES-256-GCM under that DEK
 * (`payload_chunks`). The associated data of a chunk is
 * `"kenshin-chunk/v1" ‖ 0 ‖ transferId ‖ 0 ‖ kind ‖ 0 ‖ seq (u64 BE) ‖ final (1 byte)`: a chunk moved to
 * another transfer, kind or position fails authentication, and so does a payload whose tail was cut
 * off, because the chunk that becomes last was not sealed as final (the STREAM construction of
 * Hoang, Reyhanitabar, Rogaway and Vizár, "Online Authenticated-Encryption and its Nonce-Reuse
 * Misuse-Resistance", CRYPTO 2015). An empty payload is one empty final chunk, so "empty" and "missing"
 * stay distinguishable.
 *
 * Deletion is physical: the rows are deleted with `secure_delete` on (SQLite zeroes the freed cells and
 * pages) and the WAL is checkpointed and truncated so no older page image keeps a copy; the wrapped DEK
 * goes in the same transaction, which crypto-shreds anything that survives elsewhere (backups, freed
 * file-system blocks).
 */
import { CodedError } from "../coded-error.js";
import { aesGcmOpen, aesGcmSeal, NONCE_BYTES } from "../crypto/aes-gcm.js";
import { generateDataKey, type Kek } from "../crypto/data-keys.js";
import type { ServiceDb } from "./service-db.js";

/** Codes of the payload store. */
export type PayloadErrorCode =
  | "PAYLOAD_NOT_FOUND"
  | "PAYLOAD_CORRUPT"
  | "PAYLOAD_EXISTS"
  | "PAYLOAD_KEK_MISMATCH"
  | "PAYLOAD_SECURE_DELETE_OFF"
  | "PAYLOAD_OPTIONS_INVALID";

/** Errors of the payload store. Context carries transfer IDs and key IDs, never contents. */
export class PayloadError extends CodedError<PayloadErrorCode> {
  override readonly name = "PayloadError";
}

/** Which stored payload of a transfer. */
export type PayloadKind = "original" | "standard";

/** Default plaintext bytes per chunk: large enough to amortise a row, small enough to stream. */
export const DEFAULT_CHUNK_BYTES = 256 * 1024;
const MAX_CHUNK_BYTES = 16 * 1024 * 1024;
const CHUNK_LABEL = "kenshin-chunk/v1";
/** Attempts at truncating the WAL when readers hold it, each waiting at most {@link CHECKPOINT_WAIT_MS}. */
const CHECKPOINT_ATTEMPTS = 3;
const CHECKPOINT_WAIT_MS = 200;

/** What {@link writePayload} stores. */
export interface WritePayloadOptions {
  readonly transferId: string;
  readonly kind: PayloadKind;
  readonly chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
  readonly random: (n: number) => Uint8Array;
  /** Plaintext bytes per stored chunk; the input is re-chunked to this size. */
  readonly chunkBytes?: number;
}

/**
 * Encrypts and stores one payload of a transfer, creating the transfer's data key on first use. One
 * call stores one whole payload in one transaction (a second call for the same kind is refused), so
 * the input is gathered in memory first: better-sqlite3 transactions cannot span awaits, and holding
 * the shared connection's write lock across them would pull other requests into this transaction.
 * @throws PayloadError PAYLOAD_EXISTS, PAYLOAD_KEK_MISMATCH, PAYLOAD_OPTIONS_INVALID
 * @throws DataKeyError DATA_KEY_KEK_ROTATING, DATA_KEY_KEK_STALE (reload the KEK and retry)
 */
export async function writePayload(
  db: ServiceDb,
  kek: Kek,
  o: WritePayloadOptions,
): Promise<{ bytes: number; chunks: number }> {
  assertTransferId(o.transferId);
  const chunkBytes = o.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > MAX_CHUNK_BYTES) {
    throw new PayloadError("PAYLOAD_OPTIONS_INVALID", "chunkBytes が範囲外です", {
      expected: `1..${MAX_CHUNK_BYTES}`,
      got: chunkBytes,
    });
  }
  const plain = await rechunk(o.chunks, chunkBytes);
  try {
    // IMMEDIATE: the write lock is taken before the KEK wraps anything, so a rotation (which takes
    // the same lock before writing kek.key.new) either re-wraps this key or makes wrap() refuse.
    return db
      .transaction(() => {
        const exists = db
          .prepare<[string, string], { n: number }>(
            "SELECT count(*) AS n FROM payload_chunks WHERE transfer_id = ? AND kind = ?",
          )
          .get(o.transferId, o.kind);
        if ((exists?.n ?? 0) > 0) {
          throw new PayloadError("PAYLOAD_EXISTS", "この転送のペイロードは既に保存されています", {
            transferId: o.transferId,
            kind: o.kind,
          });
        }
        const dek = dataKeyFor(db, kek, o.transferId, o.random);
        try {
          const insert = db.prepare(
            "INSERT INTO payload_chunks (transfer_id, kind, seq, nonce, ciphertext) VALUES (?, ?, ?, ?, ?)",
          );
          let bytes = 0;
          plain.forEach((chunk, seq) => {
            const nonce = Buffer.from(o.random(NONCE_BYTES));
            if (nonce.length !== NONCE_BYTES) {
              throw new PayloadError("PAYLOAD_OPTIONS_INVALID", "乱数源が不正です", { got: nonce.length });
            }
            const aad = chunkAad(o.transferId, o.kind, seq, seq === plain.length - 1);
            insert.run(o.transferId, o.kind, seq, nonce, aesGcmSeal(dek, nonce, aad, chunk));
            bytes += chunk.length;
          });
          return { bytes, chunks: plain.length };
        } finally {
          dek.fill(0);
        }
      })
      .immediate();
  } finally {
    for (const chunk of plain) chunk.fill(0);
  }
}

/**
 * Decrypts a stored payload chunk by chunk. Each chunk is fetched on its own (no statement stays open
 * between yields, so the caller may use the connection meanwhile); a chunk deleted during the read
 * surfaces as PAYLOAD_CORRUPT.
 * @throws PayloadError PAYLOAD_NOT_FOUND, PAYLOAD_CORRUPT, PAYLOAD_KEK_MISMATCH
 */
export function readPayload(
  db: ServiceDb,
  kek: Kek,
  transferId: string,
  kind: PayloadKind,
): AsyncIterable<Uint8Array> {
  // Lazy like a stream: nothing is read (and no error thrown) until the first chunk is asked for.
  return {
    [Symbol.asyncIterator]: () => {
      const chunks = decryptChunks(db, kek, transferId, kind);
      return {
        next: () =>
          new Promise((resolve) => {
            resolve(chunks.next());
          }),
        // Runs the generator's finally (zeroing the data key) when the consumer stops early.
        return: () => Promise.resolve(chunks.return(undefined)),
      };
    },
  };
}

function* decryptChunks(
  db: ServiceDb,
  kek: Kek,
  transferId: string,
  kind: PayloadKind,
): Generator<Uint8Array, undefined> {
  assertTransferId(transferId);
  const span = db
    .prepare<[string, string], { n: number; first: number | null; last: number | null }>(
      "SELECT count(*) AS n, min(seq) AS first, max(seq) AS last FROM payload_chunks WHERE transfer_id = ? AND kind = ?",
    )
    .get(transferId, kind);
  const keyRow = db
    .prepare<[string], { kek_id: string; wrapped_key: Buffer }>(
      "SELECT kek_id, wrapped_key FROM transfer_keys WHERE transfer_id = ?",
    )
    .get(transferId);
  if (span === undefined || span.n === 0 || span.last === null) {
    throw new PayloadError("PAYLOAD_NOT_FOUND", "ペイロードがありません", { transferId, kind });
  }
  if (keyRow === undefined || span.first !== 0 || span.last !== span.n - 1) {
    throw new PayloadError("PAYLOAD_CORRUPT", "ペイロードが欠けています", { transferId, kind });
  }
  const dek = unwrapRow(kek, transferId, keyRow);
  const chunk = db.prepare<[string, string, number], { nonce: Buffer; ciphertext: Buffer }>(
    "SELECT nonce, ciphertext FROM payload_chunks WHERE transfer_id = ? AND kind = ? AND seq = ?",
  );
  try {
    for (let seq = 0; seq <= span.last; seq++) {
      const row = chunk.get(transferId, kind, seq);
      const plain =
        row === undefined
          ? undefined
          : aesGcmOpen(dek, row.nonce, chunkAad(transferId, kind, seq, seq === span.last), row.ciphertext);
      if (plain === undefined) {
        throw new PayloadError("PAYLOAD_CORRUPT", "ペイロードの認証に失敗しました", {
          transferId,
          kind,
          seq,
        });
      }
      yield plain;
    }
  } finally {
    dek.fill(0);
  }
}

/** What {@link deletePayload} erased and whether the WAL now holds no copy. */
export interface DeletePayloadResult {
  readonly chunks: number;
  /** Whether a wrapped data key was deleted. */
  readonly dataKey: boolean;
  /**
   * True when `wal_checkpoint(TRUNCATE)` completed. False when readers kept it busy (or the call ran
   * inside the caller's transaction): old page images may still be in the WAL until
   * {@link truncateWal} succeeds, so a retention job should call it again later.
   */
  readonly walTruncated: boolean;
}

/**
 * Physically deletes every payload chunk and the wrapped data key of a transfer (one transaction,
 * `secure_delete` asserted on), then truncates the WAL. Inside a caller's transaction the rows go with
 * that transaction and the WAL is left for the caller to truncate after commit.
 * @throws PayloadError PAYLOAD_SECURE_DELETE_OFF
 */
export function deletePayload(db: ServiceDb, transferId: string): DeletePayloadResult {
  assertTransferId(transferId);
  // Per connection: a connection opened without openServiceDb would leave the bytes in free space.
  if (db.pragma("secure_delete", { simple: true }) !== 1) {
    throw new PayloadError("PAYLOAD_SECURE_DELETE_OFF", "secure_delete が無効な接続では削除しません", {});
  }
  const erased = db.transaction(() => ({
    chunks: db.prepare("DELETE FROM payload_chunks WHERE transfer_id = ?").run(transferId).changes,
    dataKey: db.prepare("DELETE FROM transfer_keys WHERE transfer_id = ?").run(transferId).changes > 0,
  }))();
  return { ...erased, walTruncated: db.inTransaction ? false : truncateWal(db) };
}

/**
 * `PRAGMA wal_checkpoint(TRUNCATE)`: copies the newest page images into the database file and cuts the
 * WAL to zero bytes. A reader still using an older snapshot blocks it; this tries a bounded number of
 * times with a short busy wait (not the connection's full busy timeout, which would stall a server for
 * seconds) and reports whether it completed. Truncation frees the file's blocks without overwriting
 * them; the secure-deleted pages that were copied in are what overwrite the payload in the main file.
 */
export function truncateWal(db: ServiceDb): boolean {
  const previous = db.pragma("busy_timeout", { simple: true }) as number;
  db.pragma(`busy_timeout = ${CHECKPOINT_WAIT_MS}`);
  try {
    for (let attempt = 0; attempt < CHECKPOINT_ATTEMPTS; attempt++) {
      const [result] = db.pragma("wal_checkpoint(TRUNCATE)") as { busy: number }[];
      if (result?.busy === 0) return true;
    }
    return false;
  } finally {
    db.pragma(`busy_timeout = ${previous}`);
  }
}

function dataKeyFor(db: ServiceDb, kek: Kek, transferId: string, random: (n: number) => Uint8Array): Buffer {
  const row = db
    .prepare<[string], { kek_id: string; wrapped_key: Buffer }>(
      "SELECT kek_id, wrapped_key FROM transfer_keys WHERE transfer_id = ?",
    )
    .get(transferId);
  if (row !== undefined) return unwrapRow(kek, transferId, row);
  const dek = Buffer.from(generateDataKey(random));
  db.prepare("INSERT INTO transfer_keys (transfer_id, kek_id, wrapped_key) VALUES (?, ?, ?)").run(
    transferId,
    kek.id,
    kek.wrap(dek, transferId),
  );
  return dek;
}

/** Unwraps a stored data key with `kek` (which must be the one that wrapped it). */
export function unwrapRow(
  kek: Pick<Kek, "id" | "unwrap">,
  transferId: string,
  row: { kek_id: string; wrapped_key: Buffer },
): Buffer {
  if (row.kek_id !== kek.id) {
    // Another process rotated the KEK since this one was loaded: the caller reloads it.
    throw new PayloadError("PAYLOAD_KEK_MISMATCH", "データ鍵が別の鍵暗号化鍵で包まれています", {
      transferId,
      expected: row.kek_id,
      got: kek.id,
    });
  }
  try {
    return Buffer.from(kek.unwrap(row.wrapped_key, transferId));
  } catch (cause) {
    throw new PayloadError("PAYLOAD_CORRUPT", "データ鍵を復号できません", { transferId }, { cause });
  }
}

export function chunkAad(transferId: string, kind: PayloadKind, seq: number, final: boolean): Buffer {
  const tail = Buffer.alloc(9);
  tail.writeBigUInt64BE(BigInt(seq));
  tail[8] = final ? 1 : 0;
  return Buffer.concat([Buffer.from(`${CHUNK_LABEL}\0${transferId}\0${kind}\0`, "utf8"), tail]);
}

/** Transfer IDs are ours, but a NUL would make the associated data ambiguous, so refuse one. */
function assertTransferId(transferId: string): void {
  if (transferId.length === 0 || transferId.length > 200 || transferId.includes("\0")) {
    throw new PayloadError("PAYLOAD_OPTIONS_INVALID", "転送IDが不正です", {});
  }
}

/** Re-cuts the input into chunks of exactly `size` bytes (the last one shorter; at least one chunk). */
async function rechunk(
  input: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  size: number,
): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let current = Buffer.alloc(size);
  let filled = 0;
  for await (const piece of input) {
    let offset = 0;
    while (offset < piece.length) {
      const n = Math.min(size - filled, piece.length - offset);
      current.set(piece.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === size) {
        out.push(current);
        current = Buffer.alloc(size);
        filled = 0;
      }
    }
  }
  if (filled > 0 || out.length === 0) out.push(current.subarray(0, filled));
  return out;
}
