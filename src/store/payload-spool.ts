/**
 * A payload written while it is still being produced (a streamed upload's standard CSV), so the
 * service never holds a whole payload in memory.
 *
 * The chunks are sealed at once, exactly as payload-store.ts stores them (AES-256-GCM under the
 * transfer's data key, the same associated data, the final chunk sealed as final), and appended to a
 * spool file in the data directory. Only `commit` — one IMMEDIATE transaction run by the caller
 * together with the transfer row — wraps the data key with the KEK and moves the sealed chunks into
 * `payload_chunks`. Until then the data key exists only in this process's memory: a spool file left by
 * a crash is ciphertext under a key nobody has, and `clearSpool` removes such files at start-up.
 * Plaintext never reaches the disk.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { aesGcmSeal, NONCE_BYTES } from "../crypto/aes-gcm.js";
import { generateDataKey, type Kek } from "../crypto/data-keys.js";
import { chunkAad, DEFAULT_CHUNK_BYTES, PayloadError, type PayloadKind } from "./payload-store.js";
import type { ServiceDb } from "./service-db.js";

const SPOOL_SUFFIX = ".spool";
const FRAME_HEADER = 4 + NONCE_BYTES;

/** Removes spool files left by a process that stopped mid-upload (unreadable ciphertext). */
export function clearSpool(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) if (name.endsWith(SPOOL_SUFFIX)) rmSync(join(dir, name), { force: true });
}

export class PayloadSpool {
  readonly transferId: string;
  readonly kind: PayloadKind;
  private readonly path: string;
  private readonly random: (n: number) => Uint8Array;
  private readonly dek: Buffer;
  private readonly chunkBytes: number;
  private fd: number | undefined;
  private current: Buffer;
  private filled = 0;
  /** A full chunk held back until it is known not to be the last. */
  private held: Buffer | undefined;
  /** The wrapped key handed out by {@link wrappedKey} (the one a replicated manifest carries). */
  private wrapped: { readonly kekId: string; readonly bytes: Uint8Array } | undefined;
  private seq = 0;
  private finished = false;
  /** Plaintext bytes written. */
  bytes = 0;

  constructor(o: {
    dir: string;
    transferId: string;
    kind: PayloadKind;
    random: (n: number) => Uint8Array;
    chunkBytes?: number;
  }) {
    this.transferId = o.transferId;
    this.kind = o.kind;
    this.random = o.random;
    this.chunkBytes = o.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    const name = `${Buffer.from(o.random(12)).toString("hex")}${SPOOL_SUFFIX}`;
    this.path = join(o.dir, name);
    this.fd = openSync(this.path, "wx+", 0o600);
    this.dek = Buffer.from(generateDataKey(o.random));
    this.current = Buffer.alloc(this.chunkBytes);
  }

  /** Adds plaintext (any size); full chunks are sealed and spooled. */
  write(piece: Uint8Array): void {
    if (this.finished) throw new PayloadError("PAYLOAD_OPTIONS_INVALID", "spool は終了しています", {});
    let offset = 0;
    while (offset < piece.length) {
      const n = Math.min(this.chunkBytes - this.filled, piece.length - offset);
      this.current.set(piece.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === this.chunkBytes) {
        // Two chunk buffers in turn: the one just sealed (and zeroed) takes the next plaintext, so a
        // 600 MB payload does not leave 2,400 chunk buffers behind for the collector.
        const sealed = this.held;
        if (sealed) this.seal(sealed, false);
        this.held = this.current;
        this.current = sealed ?? Buffer.alloc(this.chunkBytes);
        this.filled = 0;
      }
    }
    this.bytes += piece.length;
  }

  /** Seals the final chunk (an empty payload is one empty final chunk). */
  finish(): void {
    if (this.finished) return;
    if (this.filled > 0 || !this.held) {
      if (this.held) this.seal(this.held, false);
      this.seal(this.current.subarray(0, this.filled), true);
    } else {
      this.seal(this.held, true);
    }
    this.held = undefined;
    this.current.fill(0);
    this.finished = true;
  }

  /**
   * Stores the spooled payload; call inside the caller's IMMEDIATE transaction (with the transfer
   * row, which must exist first). Reads the spool back one chunk at a time.
   * @throws PayloadError PAYLOAD_EXISTS when the transfer already has this payload
   */
  commit(db: ServiceDb, kek: Kek): { bytes: number; chunks: number } {
    this.finish();
    const exists = db
      .prepare<[string, string], { n: number }>(
        "SELECT count(*) AS n FROM payload_chunks WHERE transfer_id = ? AND kind = ?",
      )
      .get(this.transferId, this.kind);
    if ((exists?.n ?? 0) > 0) {
      throw new PayloadError("PAYLOAD_EXISTS", "この転送のペイロードは既に保存されています", {
        transferId: this.transferId,
        kind: this.kind,
      });
    }
    // Wrapped here, inside the caller's lock (the KEK's rotation checks run now); when the cluster
    // replicated the payload, the row holds the very bytes its manifest carries (wrappedKey), so every
    // node stores the same key row.
    const fresh = kek.wrap(this.dek, this.transferId);
    const wrapped = this.wrapped?.kekId === kek.id ? this.wrapped.bytes : fresh;
    db.prepare("INSERT INTO transfer_keys (transfer_id, kek_id, wrapped_key) VALUES (?, ?, ?)").run(
      this.transferId,
      kek.id,
      wrapped,
    );
    const insert = db.prepare(
      "INSERT INTO payload_chunks (transfer_id, kind, seq, nonce, ciphertext) VALUES (?, ?, ?, ?, ?)",
    );
    const fd = this.fd;
    if (fd === undefined) throw new PayloadError("PAYLOAD_OPTIONS_INVALID", "spool は閉じています", {});
    const header = Buffer.alloc(FRAME_HEADER);
    // One buffer for every chunk read back (SQLite copies what it binds): a 1 GB payload must not leave
    // a thousand chunk-sized buffers for the collector to find after this synchronous loop.
    let room = Buffer.alloc(this.chunkBytes + 64);
    let position = 0;
    for (let seq = 0; seq < this.seq; seq++) {
      readFully(fd, header, position);
      const length = header.readUInt32BE(0);
      const nonce = header.subarray(4);
      if (length > room.length) room = Buffer.alloc(length);
      const ciphertext = room.subarray(0, length);
      readFully(fd, ciphertext, position + FRAME_HEADER);
      position += FRAME_HEADER + length;
      insert.run(this.transferId, this.kind, seq, nonce, ciphertext);
    }
    return { bytes: this.bytes, chunks: this.seq };
  }

  /**
   * The sealed chunks as the opaque blobs the cluster replicates before the upload is acknowledged
   * (nonce ‖ ciphertext: exactly the bytes `commit` will store in a `payload_chunks` row), read back one
   * chunk at a time. No key is involved: the data key stays in this process until `commit` wraps it.
   */
  *sealedBlobs(): Generator<Uint8Array> {
    this.finish();
    const fd = this.fd;
    if (fd === undefined) throw new PayloadError("PAYLOAD_OPTIONS_INVALID", "spool は閉じています", {});
    const header = Buffer.alloc(FRAME_HEADER);
    let position = 0;
    for (let seq = 0; seq < this.seq; seq++) {
      readFully(fd, header, position);
      const blob = Buffer.alloc(header.readUInt32BE(0) + NONCE_BYTES);
      header.copy(blob, 0, 4);
      readFully(fd, blob.subarray(NONCE_BYTES), position + FRAME_HEADER);
      position += FRAME_HEADER + blob.length - NONCE_BYTES;
      yield new Uint8Array(blob.buffer, blob.byteOffset, blob.length);
    }
  }

  /**
   * The data key wrapped by the KEK, as a replicated upload's command carries it (cluster nodes store
   * the payload from its replicated blobs and this wrapped key; the plain key never leaves this process).
   * @throws DataKeyError DATA_KEY_KEK_ROTATING, DATA_KEY_KEK_STALE
   */
  wrappedKey(kek: Kek): { readonly kekId: string; readonly bytes: Uint8Array } {
    if (this.wrapped?.kekId !== kek.id) {
      this.wrapped = { kekId: kek.id, bytes: kek.wrap(this.dek, this.transferId) };
    }
    return this.wrapped;
  }

  /** Deletes the spool file and forgets the data key (after commit or on failure). */
  close(): void {
    this.dek.fill(0);
    this.current.fill(0);
    this.held?.fill(0);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.path, { force: true });
  }

  private seal(plain: Buffer, last: boolean): void {
    const fd = this.fd;
    if (fd === undefined) throw new PayloadError("PAYLOAD_OPTIONS_INVALID", "spool は閉じています", {});
    const nonce = Buffer.from(this.random(NONCE_BYTES));
    if (nonce.length !== NONCE_BYTES) {
      throw new PayloadError("PAYLOAD_OPTIONS_INVALID", "乱数源が不正です", { got: nonce.length });
    }
    const aad = chunkAad(this.transferId, this.kind, this.seq, last);
    const ciphertext = aesGcmSeal(this.dek, nonce, aad, plain);
    const header = Buffer.alloc(FRAME_HEADER);
    header.writeUInt32BE(ciphertext.length, 0);
    nonce.copy(header, 4);
    writeSync(fd, header);
    writeSync(fd, ciphertext);
    plain.fill(0);
    this.seq++;
  }
}

function readFully(fd: number, into: Buffer, position: number): void {
  let got = 0;
  while (got < into.length) {
    const n = readSync(fd, into, got, into.length - got, position + got);
    if (n === 0) throw new PayloadError("PAYLOAD_CORRUPT", "spool が途中で終わっています", {});
    got += n;
  }
}
