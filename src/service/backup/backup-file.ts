/**
 * The backup file (`.kxb`, format 1): a node's database snapshots and their manifest in one file,
 * encrypted and authenticated with the node's backup key.
 *
 *     file      = "KXB1" ‖ keyId (8) ‖ salt (32) ‖ envelope
 *     envelope  = the transfer envelope, version 1 (`client/envelope.ts`): "KXE1" ‖ chunk size ‖ chunks
 *     key       = deriveEnvelopeKeyFromSecret(backup key, salt, label "kenshin-backup-v1")
 *     keyId     = HMAC-SHA256(backup key, "kenshin-backup/v1 key id")[0..8]
 *     plaintext = manifestLength (uint32 BE) ‖ manifest (UTF-8 JSON) ‖ file_0 ‖ file_1 …
 *
 * The envelope is STREAM over AES-256-GCM (see its file comment): every chunk authenticates at its
 * position, and a cut at a chunk boundary or appended bytes are detected. The salt is fresh per file, so
 * each file has its own key and its nonces never repeat; a changed salt gives another key and nothing
 * opens. The key ID is checked first only to tell "another key" apart from "damaged"; it reveals
 * nothing about the key. One chunked AEAD in the project, not two.
 *
 * The plaintext layout is not a general archive on purpose: it carries exactly the files the manifest
 * names, in its order, with their sizes and SHA-256 — the manifest is the table of contents.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import {
  deriveEnvelopeKeyFromSecret,
  EnvelopeError,
  EnvelopeOpener,
  EnvelopeSealer,
  ENVELOPE_MAX_CHUNK_SIZE,
} from "../../client/envelope.js";
import { ServiceError } from "../errors.js";

/**
 * The files a backup holds, in this order; nothing else may be named (they become paths on restore).
 * A cluster node's generation holds its chunk store (`chunks.db`, the payload ciphertext) as a third.
 */
export const BACKUP_FILE_NAMES = ["service.db", "ledger.db", "chunks.db"] as const;
export type BackupFileName = (typeof BACKUP_FILE_NAMES)[number];

const manifestSchema = z
  .object({
    format: z.literal(1),
    node: z.string().min(1).max(200),
    createdAt: z.iso.datetime(),
    files: z
      .array(
        z
          .object({
            name: z.enum(BACKUP_FILE_NAMES),
            bytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
            sha256: z.string().regex(/^[0-9a-f]{64}$/),
          })
          .strict(),
      )
      .min(2)
      .max(BACKUP_FILE_NAMES.length)
      .refine((files) => files.every((f, i) => f.name === BACKUP_FILE_NAMES[i]), "files order"),
    ledger: z
      .object({ size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), checkpoint: z.string().min(1) })
      .strict(),
  })
  .strict();

/** What a backup says about itself: node, time, files and the ledger state it captured. */
export type BackupManifest = z.output<typeof manifestSchema>;

/** Why a backup file was refused (the `reason` in BACKUP_INVALID's context). */
export type BackupInvalidReason =
  "format" | "key" | "authentication" | "truncated" | "manifest" | "hash" | "database" | "fsck";

/** The one error a bad backup gives: BACKUP_INVALID with the reason, never key or content bytes. */
export function backupInvalid(
  reason: BackupInvalidReason,
  context: Record<string, unknown> = {},
  cause?: unknown,
): ServiceError {
  return new ServiceError(
    "BACKUP_INVALID",
    `バックアップファイルが不正です (${reason})`,
    { reason, ...context },
    { cause },
  );
}

export const BACKUP_KEY_BYTES = 32;
/** Plaintext bytes per chunk: the envelope's largest, 1 MiB (fewest tags, bounded buffers). */
export const BACKUP_DEFAULT_CHUNK_SIZE = ENVELOPE_MAX_CHUNK_SIZE;
const MAGIC = Buffer.from("KXB1", "ascii");
const KEY_ID_BYTES = 8;
const SALT_BYTES = 32;
const HEADER_BYTES = MAGIC.length + KEY_ID_BYTES + SALT_BYTES;
/** A manifest is a few hundred bytes; the bound keeps a hostile length from allocating much. */
const MAX_MANIFEST_BYTES = 64 * 1024;
const READ_BYTES = 1024 * 1024;
const LABEL = "kenshin-backup-v1";

/** Names a backup key without revealing it, so a file sealed under another key is reported as such. */
export function backupKeyId(key: Uint8Array): Buffer {
  return createHmac("sha256", key).update("kenshin-backup/v1 key id").digest().subarray(0, KEY_ID_BYTES);
}

/**
 * Writes a backup file: the manifest, then each file it names, read from `dir`, sealed chunk by chunk.
 * The output is created exclusively (never overwrites) and fsynced before this resolves.
 * @param o.salt 32 fresh random bytes (they make this file's key)
 * @param o.chunkSize plaintext bytes per chunk, 1 KiB … 1 MiB
 * @returns the size and SHA-256 of the written (encrypted) file
 */
export async function writeBackupFile(o: {
  out: string;
  key: Uint8Array;
  salt: Uint8Array;
  manifest: BackupManifest;
  dir: string;
  chunkSize?: number;
}): Promise<{ bytes: number; sha256: string }> {
  const sealer = new EnvelopeSealer(
    await deriveEnvelopeKeyFromSecret({ secret: o.key, salt: o.salt, label: LABEL }),
    o.chunkSize ?? BACKUP_DEFAULT_CHUNK_SIZE,
  );
  const manifest = Buffer.from(JSON.stringify(o.manifest), "utf8");
  const hash = createHash("sha256");
  let bytes = 0;
  const out = await open(o.out, "wx", 0o600);
  try {
    const write = async (piece: Uint8Array): Promise<void> => {
      hash.update(piece);
      bytes += piece.length;
      await out.write(piece);
    };
    await write(Buffer.concat([MAGIC, backupKeyId(o.key), o.salt]));
    const length = Buffer.alloc(4);
    length.writeUInt32BE(manifest.length);
    await write(await sealer.push(Buffer.concat([length, manifest])));
    for (const f of o.manifest.files) {
      await pushFile(join(o.dir, f.name), f.bytes, async (piece) => write(await sealer.push(piece)));
    }
    await write(await sealer.finish());
    await out.sync();
  } finally {
    await out.close();
  }
  return { bytes, sha256: hash.digest("hex") };
}

/** Streams one snapshot into the sealer, refusing one whose size changed since the manifest was made. */
async function pushFile(path: string, bytes: number, push: (piece: Buffer) => Promise<void>): Promise<void> {
  const file = await open(path, "r");
  try {
    let read = 0;
    for (;;) {
      const { bytesRead, buffer } = await file.read(Buffer.alloc(READ_BYTES), 0, READ_BYTES, null);
      if (bytesRead === 0) break;
      read += bytesRead;
      if (read > bytes) break;
      await push(buffer.subarray(0, bytesRead));
    }
    if (read !== bytes) throw backupInvalid("format", { why: "snapshot size changed", path });
  } finally {
    await file.close();
  }
}

/**
 * Decrypts a backup file into `dir` (one file per manifest entry, mode 0600) and checks that every
 * chunk authenticates in place, that nothing is missing or appended, and that each file has the size
 * and SHA-256 the manifest gives. Only authenticated plaintext is parsed or written.
 * @throws ServiceError BACKUP_INVALID (reason format, key, authentication, truncated, manifest, hash)
 */
export async function readBackupFile(o: {
  file: string;
  key: Uint8Array;
  dir: string;
}): Promise<BackupManifest> {
  let input: FileHandle;
  try {
    input = await open(o.file, "r");
  } catch (cause) {
    throw backupInvalid("format", { why: "unreadable" }, cause);
  }
  const sink = new Unpacker(o.dir);
  try {
    const size = (await input.stat()).size;
    const header = Buffer.alloc(HEADER_BYTES);
    if ((await input.read(header, 0, HEADER_BYTES, 0)).bytesRead < HEADER_BYTES) {
      throw backupInvalid("truncated", { bytes: size });
    }
    if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw backupInvalid("format", { why: "magic" });
    if (!timingSafeEqual(header.subarray(MAGIC.length, MAGIC.length + KEY_ID_BYTES), backupKeyId(o.key))) {
      throw backupInvalid("key");
    }
    const salt = header.subarray(MAGIC.length + KEY_ID_BYTES);
    const key = await deriveEnvelopeKeyFromSecret({ secret: o.key, salt, label: LABEL });
    // Plaintext is never longer than the ciphertext, so the file's size bounds it.
    const opener = new EnvelopeOpener(key, { maxPlaintextBytes: size });
    try {
      for (let at = HEADER_BYTES; ;) {
        const { bytesRead, buffer } = await input.read(Buffer.alloc(READ_BYTES), 0, READ_BYTES, at);
        if (bytesRead === 0) break;
        at += bytesRead;
        await sink.push(Buffer.from(await opener.push(buffer.subarray(0, bytesRead))));
      }
      await sink.push(Buffer.from(await opener.finish()));
    } catch (error) {
      throw error instanceof EnvelopeError
        ? backupInvalid(envelopeReason(error), error.context, error)
        : error;
    }
    return await sink.finish();
  } finally {
    await sink.close();
    await input.close();
  }
}

function envelopeReason(error: EnvelopeError): BackupInvalidReason {
  switch (error.code) {
    case "ENVELOPE_TRUNCATED":
      return "truncated";
    case "ENVELOPE_INVALID":
      return "authentication";
    case "ENVELOPE_MALFORMED":
    case "ENVELOPE_TOO_LARGE":
    case "ENVELOPE_KEY_INVALID":
      return "format";
  }
}

/** Splits the authenticated plaintext into the manifest and the files it names, hashing as it writes. */
class Unpacker {
  #buffer: Buffer = Buffer.alloc(0);
  #manifest: BackupManifest | undefined;
  #file = 0;
  #written = 0;
  #hash = createHash("sha256");
  #out: FileHandle | undefined;

  constructor(readonly dir: string) {}

  async push(bytes: Buffer): Promise<void> {
    this.#buffer = this.#buffer.length === 0 ? bytes : Buffer.concat([this.#buffer, bytes]);
    if (this.#manifest === undefined && !this.#readManifest()) return;
    const manifest = this.#manifest as BackupManifest;
    while (this.#buffer.length > 0) {
      const entry = manifest.files[this.#file];
      if (entry === undefined) throw backupInvalid("manifest", { why: "bytes after the last file" });
      this.#out ??= await open(join(this.dir, entry.name), "wx", 0o600);
      const take = Math.min(entry.bytes - this.#written, this.#buffer.length);
      const piece = this.#buffer.subarray(0, take);
      this.#hash.update(piece);
      await this.#out.write(piece);
      this.#written += take;
      this.#buffer = this.#buffer.subarray(take);
      if (this.#written === entry.bytes) await this.#nextFile(entry.sha256);
    }
  }

  async finish(): Promise<BackupManifest> {
    const manifest = this.#manifest;
    if (manifest === undefined) throw backupInvalid("manifest", { why: "incomplete" });
    // Files of zero bytes are complete before any of their bytes arrive.
    for (let entry = manifest.files[this.#file]; entry?.bytes === 0; entry = manifest.files[this.#file]) {
      this.#out = await open(join(this.dir, entry.name), "wx", 0o600);
      await this.#nextFile(entry.sha256);
    }
    if (this.#file !== manifest.files.length) throw backupInvalid("manifest", { why: "files missing" });
    return manifest;
  }

  async close(): Promise<void> {
    await this.#out?.close();
    this.#out = undefined;
  }

  async #nextFile(expected: string): Promise<void> {
    await this.close();
    const got = this.#hash.digest("hex");
    if (got !== expected) throw backupInvalid("hash", { file: this.#file });
    this.#hash = createHash("sha256");
    this.#written = 0;
    this.#file++;
  }

  #readManifest(): boolean {
    if (this.#buffer.length < 4) return false;
    const length = this.#buffer.readUInt32BE(0);
    if (length > MAX_MANIFEST_BYTES) throw backupInvalid("manifest", { why: "too large" });
    if (this.#buffer.length < 4 + length) return false;
    let parsed: unknown;
    try {
      parsed = JSON.parse(this.#buffer.subarray(4, 4 + length).toString("utf8"));
    } catch (cause) {
      throw backupInvalid("manifest", { why: "json" }, cause);
    }
    const result = manifestSchema.safeParse(parsed);
    if (!result.success) throw backupInvalid("manifest", { why: "schema" }, result.error);
    this.#manifest = result.data;
    this.#buffer = this.#buffer.subarray(4 + length);
    return true;
  }
}
