/**
 * Scrubbing deleted transfers out of one existing backup generation (issue 11: a physically deleted
 * transfer's data key is gone everywhere, the offline node's generations included). A generation taken
 * before a deletion still holds the transfer's KEK-wrapped data key (service.db `transfer_keys`), its
 * payload ciphertext (`payload_chunks`) and, on a cluster node, its manifest (which carries the wrapped
 * key) and chunks in chunks.db. This rewrites the generation without them:
 *
 * 1. decrypt it into a private working directory (0700, files 0600; the same checks as `backup verify`:
 *    every envelope chunk authenticates, every file has its manifest size and SHA-256). It holds no
 *    result plaintext: payloads are ciphertext under data keys wrapped by the KEK, which is never here;
 * 2. delete the transfers' rows (`transfer_keys`, `payload_chunks`, and the node-local
 *    `cluster_payload_refs` / `cluster_payload_wanted`) and, from chunks.db, their manifests and every
 *    chunk no other payload of the generation references, with `secure_delete`, then VACUUM (free pages
 *    are rebuilt away) and checkpoint so the main file holds everything; SQLite's quick_check must pass;
 * 3. seal again under the backup key with a fresh salt, the manifest's file sizes and hashes recomputed
 *    (node, time, ledger size and checkpoint unchanged: ledger.db is not touched — entries commit to
 *    hashes, never to keys), fsync, and rename over the old file.
 *
 * Crash safety: the new file is written as `.<name>.<pid>.part` beside the old one and renamed over it
 * (atomic on one file system), so a kill at any step leaves the old generation or the new one, never
 * none; an abandoned `.part` or working directory is removed by backup-leftovers.ts at the next start.
 * A generation that holds none of the transfers is left untouched (not rewritten).
 *
 * The transfer rows themselves stay as they were: the generation is a copy at one log position, whose
 * ledger commits to those rows; a node restored from it applies the deletion again when it catches up.
 */
import Database from "better-sqlite3";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { decodeManifest } from "../../cluster/payload-manifest.js";
import { assertSqliteRuntime } from "../../store/sqlite-runtime.js";
import { partName, workInProgress, workPrefix } from "./backup-leftovers.js";
import { readBackupFile, writeBackupFile, type BackupFileName, type BackupManifest } from "./backup-file.js";
import { backupsDir, hashFile, listGenerations } from "./backup-generation.js";
import { finishScrubs, pendingScrubs } from "./generation-scrub-queue.js";
import { fsyncDir, loadBackupKey } from "./backup-key.js";
import type { DataPaths } from "../data-dir.js";
import { ServiceError } from "../errors.js";

export interface ScrubGenerationInput {
  /** The generation file (replaced in place when it held any of the transfers). */
  readonly file: string;
  readonly key: Uint8Array;
  /** Transfers physically deleted on the node (their rows and chunks go from the generation). */
  readonly transferIds: readonly string[];
  /** The node's data directory: the private working directory is made there (same file system). */
  readonly dataDir: string;
  readonly random: (n: number) => Uint8Array;
  /** Plaintext bytes per encrypted chunk of the rewritten file (tests use small ones). */
  readonly chunkSize?: number;
}

/** What one scrub did; counts only (no transfer ids, keys or content). */
export interface ScrubGenerationResult {
  /** Whether the generation was rewritten. */
  readonly rewritten: boolean;
  /** Rows deleted from its service.db. */
  readonly rows: number;
  /** Chunks (manifests included) deleted from its chunks.db. */
  readonly chunks: number;
  /** The rewritten file's size and SHA-256 (undefined: not rewritten). */
  readonly written?: { readonly bytes: number; readonly sha256: string };
  readonly manifest: BackupManifest;
}

/** Per generation, the transfers scrubbed at once are bound into one `IN (...)` list. */
export const SCRUB_MAX_TRANSFERS = 256;

/** Scrubs `transferIds` out of one generation; see the file comment. */
export async function scrubGeneration(o: ScrubGenerationInput): Promise<ScrubGenerationResult> {
  if (o.transferIds.length === 0 || o.transferIds.length > SCRUB_MAX_TRANSFERS) {
    throw new ServiceError("SERVICE_CONFIG_INVALID", "世代から消す転送の数が範囲外です", {
      expected: `1..${SCRUB_MAX_TRANSFERS}`,
      got: o.transferIds.length,
    });
  }
  const dir = dirname(o.file);
  const part = join(dir, partName(basename(o.file)));
  const work = await mkdtemp(join(o.dataDir, workPrefix()));
  try {
    await chmod(work, 0o700);
    const manifest = await readBackupFile({ file: o.file, key: o.key, dir: work });
    const hasChunks = manifest.files.some((f) => f.name === "chunks.db");
    const removed = scrubDatabases(
      join(work, "service.db"),
      hasChunks ? join(work, "chunks.db") : undefined,
      o.transferIds,
    );
    if (removed.rows === 0 && removed.chunks === 0) return { rewritten: false, ...removed, manifest };
    const files = [];
    for (const f of manifest.files) files.push({ name: f.name, ...(await hashFile(join(work, f.name))) });
    const next: BackupManifest = { ...manifest, files };
    const written = await writeBackupFile({
      out: part,
      key: o.key,
      salt: o.random(32),
      manifest: next,
      dir: work,
      ...(o.chunkSize !== undefined ? { chunkSize: o.chunkSize } : {}),
    });
    // Pruned meanwhile (by hand: takes and scrubs of this node never overlap): not brought back.
    await stat(o.file);
    await rename(part, o.file);
    await fsyncDir(dir);
    return { rewritten: true, ...removed, written, manifest: next };
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(part, { force: true });
  }
}

/** Deletes the transfers' rows and unshared chunks from the unpacked copies; returns the counts. */
function scrubDatabases(
  servicePath: string,
  chunksPath: string | undefined,
  ids: readonly string[],
): { rows: number; chunks: number } {
  assertSqliteRuntime();
  const service = openForScrub(servicePath);
  const chunks = chunksPath === undefined ? undefined : openForScrub(chunksPath);
  try {
    const list = ids.map(() => "?").join(", ");
    const has = (table: string): boolean =>
      service.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !==
      undefined;
    const refs = has("cluster_payload_refs");
    const wanted = has("cluster_payload_wanted");
    const doomed = new Set<string>();
    const manifests = new Set<string>();
    if (refs) {
      const rows = service
        .prepare<string[], { address: string; manifest: number }>(
          `SELECT address, manifest FROM cluster_payload_refs WHERE transfer_id IN (${list})`,
        )
        .all(...ids);
      for (const r of rows) {
        doomed.add(r.address);
        if (r.manifest === 1) manifests.add(r.address);
      }
    }
    // A payload still being fetched when the generation was taken names its manifest only here; the
    // chunk-store copy (taken after service.db) may hold that manifest already.
    if (wanted) {
      const rows = service
        .prepare<string[], { manifest: string }>(
          `SELECT manifest FROM cluster_payload_wanted WHERE transfer_id IN (${list})`,
        )
        .all(...ids);
      for (const r of rows) manifests.add(r.manifest);
    }
    const wantedIds = new Set(ids);
    if (chunks !== undefined) {
      const get = chunks.prepare<[string], { bytes: Buffer }>("SELECT bytes FROM chunks WHERE address = ?");
      for (const address of manifests) {
        doomed.add(address);
        const blob = get.get(address)?.bytes;
        if (blob === undefined) continue;
        try {
          const m = decodeManifest(blob);
          if (wantedIds.has(m.transfer)) for (const a of m.chunks) doomed.add(a);
        } catch {
          // Not a manifest after all: its own address is still deleted.
        }
      }
    }
    // Addresses are content addresses: a chunk another payload of the generation uses stays.
    const shared = refs
      ? service.prepare<[string, ...string[]], { one: number }>(
          `SELECT 1 AS one FROM cluster_payload_refs WHERE address = ? AND transfer_id NOT IN (${list}) LIMIT 1`,
        )
      : undefined;
    let deletedChunks = 0;
    if (chunks !== undefined) {
      const del = chunks.prepare<[string]>("DELETE FROM chunks WHERE address = ?");
      chunks.transaction(() => {
        for (const address of doomed) {
          if (shared?.get(address, ...ids) !== undefined) continue;
          deletedChunks += del.run(address).changes;
        }
      })();
    }
    const tables = ["transfer_keys", "payload_chunks", ...(refs ? ["cluster_payload_refs"] : [])];
    if (wanted) tables.push("cluster_payload_wanted");
    let rows = 0;
    service.transaction(() => {
      for (const t of tables) {
        if (!has(t)) continue;
        rows += service.prepare(`DELETE FROM ${t} WHERE transfer_id IN (${list})`).run(...ids).changes;
      }
    })();
    if (rows > 0) compact(service, "service.db");
    if (chunks !== undefined && deletedChunks > 0) compact(chunks, "chunks.db");
    return { rows, chunks: deletedChunks };
  } finally {
    chunks?.close();
    service.close();
  }
}

function openForScrub(path: string): Database.Database {
  const db = new Database(path, { fileMustExist: true });
  // Freed pages are overwritten, then VACUUM rebuilds the file without them (see compact()).
  db.pragma("secure_delete = ON");
  return db;
}

/**
 * VACUUM (the file is rebuilt from the live rows only), then the WAL (if the copy is in WAL mode)
 * checkpointed into the main file and cut, which is the one file the generation carries.
 */
function compact(db: Database.Database, name: string): void {
  db.exec("VACUUM");
  db.pragma("wal_checkpoint(TRUNCATE)");
  const check = db.pragma("quick_check", { simple: true });
  if (check !== "ok") {
    throw new ServiceError("SERVICE_DB_UNUSABLE", "世代の削除処理後のデータベース検査に失敗しました", {
      file: name,
      check: String(check).slice(0, 200),
    });
  }
}

/** What one scrub round did (counts and generation names only). */
export interface ScrubRound {
  /**
   * A backup, restore or scrub had its working directory open (another process's `kenshin backup
   * create`, say): nothing was done and the queue is kept for the next round.
   */
  readonly deferred: boolean;
  /** Queued transfers handled (scrubbed from every generation, or not deleted here: dropped unscrubbed). */
  readonly transfers: number;
  /** Of those, queued transfers whose row here is not deleted or discarded (left alone). */
  readonly notDeleted: number;
  readonly generations: number;
  /** The generations rewritten, with their new size and SHA-256 (and what their manifest says). */
  readonly rewritten: readonly RewrittenGeneration[];
}

export interface RewrittenGeneration {
  readonly name: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly createdAt: string;
  readonly ledgerSize: number;
  readonly files: readonly BackupFileName[];
}

/**
 * One round of the queue (generation-scrub-queue.ts): up to {@link SCRUB_MAX_TRANSFERS} queued
 * transfers are scrubbed from every generation in `backups/`, oldest first, and then dropped from the
 * queue. The caller keeps rounds and generation takes of its own process from overlapping (a take
 * prunes; a scrub renames). A take in another process (`kenshin backup create` beside `kenshin serve`)
 * cannot be put in line, so a round looks, after it has read the queue, for a working directory of any
 * live process and, when there is one, does nothing: a take whose snapshot may hold a queued transfer
 * is then either still working (the round waits) or already in `backups/` (the round lists it). Two
 * scrubbing processes on one data directory are not supported (serve and the offline node each own one).
 *
 * Only a transfer whose row on this node is deleted or discarded is scrubbed: the queue is node-local,
 * but what it deletes from a backup must never be a live transfer's key. A generation that fails (it no
 * longer opens with the backup key, say) fails the round after the others were done, and the queue
 * keeps its transfers for the next round.
 */
export async function scrubGenerations(o: {
  readonly db: Database.Database;
  readonly paths: DataPaths;
  readonly random: (n: number) => Uint8Array;
  readonly chunkSize?: number;
}): Promise<ScrubRound> {
  const idle = { deferred: false, transfers: 0, notDeleted: 0, generations: 0, rewritten: [] };
  const queued = pendingScrubs(o.db, SCRUB_MAX_TRANSFERS);
  if (queued.length === 0) return idle;
  // The wall clock, not the node's: it is compared with the working directories' mtimes.
  if (await workInProgress(o.paths.dir, new Date())) return { ...idle, deferred: true };
  const status = o.db.prepare<[string], { status: string }>("SELECT status FROM transfers WHERE id = ?");
  const deleted = queued.filter((id) => {
    const s = status.get(id)?.status;
    return s === "deleted" || s === "discarded";
  });
  const dir = backupsDir(o.paths);
  const names = deleted.length === 0 ? [] : await listGenerations(dir);
  const rewritten: RewrittenGeneration[] = [];
  const failed: { name: string; code: string }[] = [];
  let firstError: unknown;
  if (names.length > 0) {
    const key = await loadBackupKey(o.paths);
    for (const name of names) {
      // Gone meanwhile (pruned by hand): nothing of it is left to scrub.
      if (!existsSync(join(dir, name))) continue;
      try {
        const r = await scrubGeneration({
          file: join(dir, name),
          key,
          transferIds: deleted,
          dataDir: o.paths.dir,
          random: o.random,
          ...(o.chunkSize !== undefined ? { chunkSize: o.chunkSize } : {}),
        });
        if (r.written !== undefined) {
          rewritten.push({
            name,
            ...r.written,
            createdAt: r.manifest.createdAt,
            ledgerSize: r.manifest.ledger.size,
            files: r.manifest.files.map((f) => f.name),
          });
        }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
        firstError ??= error;
        failed.push({ name, code: error instanceof ServiceError ? error.code : "UNKNOWN" });
      }
    }
  }
  if (failed.length > 0) {
    throw new ServiceError(
      "SERVICE_DB_UNUSABLE",
      "削除済みの転送をバックアップ世代から消せませんでした",
      { reason: "generation-scrub", failed, rewritten: rewritten.length },
      { cause: firstError },
    );
  }
  finishScrubs(o.db, queued);
  return {
    deferred: false,
    transfers: queued.length,
    notDeleted: queued.length - deleted.length,
    generations: names.length,
    rewritten,
  };
}
