/**
 * Taking one backup generation (`kenshin backup create`, the schedule, the offline node): snapshots of
 * service.db, ledger.db and — on a cluster node — chunks.db (the payload ciphertext) with SQLite's
 * online backup API while the node keeps running, packed with a manifest into one file sealed with the
 * backup key (`backup-file.ts`), then generations beyond `keep` deleted, oldest first.
 *
 * Recording the generation is the caller's: an embedded or online node appends a `backup.create`
 * entry (backup.ts); the offline node cannot append and publishes a monitoring fact instead
 * (cluster/offline-node.ts).
 */
import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import { chmod, link, mkdir, mkdtemp, open, readdir, rm, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { openSqliteLog } from "../../store/sqlite-log.js";
import { assertSqliteRuntime } from "../../store/sqlite-runtime.js";
import { backupKeyPath, fsyncDir, loadBackupKey } from "./backup-key.js";
import { partName, removeBackupLeftovers, workPrefix } from "./backup-leftovers.js";
import { dropScrubQueue, prepareScrubQueue } from "./generation-scrub-queue.js";
import { writeBackupFile, type BackupFileName, type BackupManifest } from "./backup-file.js";
import type { DataPaths } from "../data-dir.js";
import { ServiceError } from "../errors.js";

/** What one generation is (also what `backups` rows and monitoring facts record). */
export interface GenerationInfo {
  /** Absolute path of the backup file. */
  readonly file: string;
  /** SHA-256 of the encrypted file, hex. */
  readonly sha256: string;
  readonly bytes: number;
  readonly ledgerSize: number;
  readonly createdAt: string;
  /** Which databases it holds. */
  readonly files: readonly BackupFileName[];
  /** Generations deleted after it was taken (names). */
  readonly pruned: readonly string[];
}

export interface GenerationSource {
  readonly paths: DataPaths;
  /** The node's open service database (its own connection is the snapshot's source). */
  readonly db: Database.Database;
  readonly nodeName: string;
  readonly keep: number;
  /** The node's chunk store file (cluster nodes), copied as `chunks.db`. */
  readonly chunksDb?: string | undefined;
  readonly now: () => Date;
  readonly random: (n: number) => Uint8Array;
  /** Plaintext bytes per encrypted chunk (tests use small ones to cross boundaries). */
  readonly chunkSize?: number;
}

/** Name of a backup generation: the UTC time it was taken, so names sort by age. */
export const BACKUP_NAME = /^kenshin-\d{8}T\d{6}\.\d{3}Z\.kxb$/;
/** Pages per backup step: everything, so one step copies a consistent snapshot (see snapshot()). */
const ALL_PAGES = 0x7fffffff;

/** Where the generations are kept. */
export function backupsDir(paths: DataPaths): string {
  return join(paths.dir, "backups");
}

/** Takes one generation and prunes older ones beyond `keep`. */
export async function takeGeneration(src: GenerationSource): Promise<GenerationInfo> {
  const paths = src.paths;
  const key = await loadBackupKey(paths, src.random);
  const dir = backupsDir(paths);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const createdAt = src.now().toISOString();
  const file = join(dir, `kenshin-${createdAt.replace(/[-:]/g, "")}.kxb`);
  const part = join(dir, partName(basename(file)));
  await removeLeftovers(paths, src.now());
  // The working directory is made before the snapshot and removed after the file is linked: while it
  // exists a scrub round keeps its queue (takeInProgress), so a deletion committed after the snapshot
  // is scrubbed from this generation too once it is in backups/.
  const work = await mkdtemp(join(paths.dir, workPrefix()));
  let written: { bytes: number; sha256: string };
  let manifest: BackupManifest;
  try {
    await chmod(work, 0o700);
    // From now on this node notes every deletion for the scrub (generation-scrub-queue.ts): one that
    // commits after the snapshot below leaves its key in this generation until a round takes it out.
    prepareScrubQueue(src.db);
    // service.db first, then ledger.db: the ledger snapshot is then at least as new as every service row
    // that names a ledger entry. (A state change and its entries commit in service.db first, with the
    // entries in the ledger outbox, and reach ledger.db in the same synchronous step; an outbox entry the
    // ledger snapshot lacks is appended when the restored node opens.) chunks.db last: a payload's chunks
    // are held before the command naming them is applied, so every payload the service snapshot names
    // is in it — and a chunk physically deleted meanwhile is gone from it too.
    await snapshotServiceAndLedger(src.db, paths.ledgerDb, work);
    withoutScrubQueue(join(work, "service.db"));
    const names: BackupFileName[] = ["service.db", "ledger.db"];
    if (src.chunksDb !== undefined) {
      await snapshotFile(src.chunksDb, join(work, "chunks.db"));
      names.push("chunks.db");
    }
    const ledger = snapshotLedgerState(join(work, "ledger.db"));
    const files = [];
    for (const name of names) files.push({ name, ...(await hashFile(join(work, name))) });
    manifest = { format: 1, node: src.nodeName, createdAt, files, ledger };
    written = await writeBackupFile({
      out: part,
      key,
      salt: src.random(32),
      manifest,
      dir: work,
      ...(src.chunkSize !== undefined ? { chunkSize: src.chunkSize } : {}),
    });
    // link, not rename: never replaces a generation of the same millisecond (EEXIST instead).
    await link(part, file);
    await fsyncDir(dir);
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(part, { force: true });
  }
  const pruned = await pruneGenerations(dir, src.keep);
  return {
    file,
    ...written,
    ledgerSize: manifest.ledger.size,
    createdAt,
    files: manifest.files.map((f) => f.name),
    pruned,
  };
}

/** The generations in `dir`, oldest first (names). */
export async function listGenerations(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => BACKUP_NAME.test(n)).sort();
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw cause;
  }
}

/**
 * Copies a database with the online backup API. All pages go in one step, which reads under a single
 * read transaction: in WAL mode the writers carry on meanwhile, and the copy is one consistent state.
 * (Small steps would let every concurrent commit restart the copy, and a busy node might never finish.)
 */
async function snapshot(source: Database.Database, to: string): Promise<void> {
  // Created owner-only first: SQLite keeps an existing file's mode (and gives its journals the same).
  await (await open(to, "wx", 0o600)).close();
  await source.backup(to, { progress: () => ALL_PAGES });
}

/** How often a cluster node's service and ledger snapshots are taken again before the take gives up. */
const FIT_ATTEMPTS = 8;

/**
 * service.db, then ledger.db. On a cluster node (service.db records a command-log position) both must
 * also be at the same batch: the node applies each batch to ledger.db and then to service.db, so a batch
 * applied between the two snapshots leaves the ledger copy holding entries of a batch whose command the
 * service copy lacks — a copy no re-formed cluster could continue from (`kenshin cluster reform` refuses
 * it, `ledger-ahead`). Such a pair is taken again (bounded); a node that never stands still long enough
 * gets SERVICE_DB_UNUSABLE with reason `busy` and the schedule tries at its next turn.
 */
async function snapshotServiceAndLedger(
  service: Database.Database,
  ledgerDb: string,
  work: string,
): Promise<void> {
  const serviceCopy = join(work, "service.db");
  const ledgerCopy = join(work, "ledger.db");
  for (let attempt = 1; ; attempt++) {
    await snapshot(service, serviceCopy);
    await snapshotFile(ledgerDb, ledgerCopy);
    const gap = positionGap(serviceCopy, ledgerCopy);
    if (gap === 0) return;
    await rm(serviceCopy, { force: true });
    await rm(ledgerCopy, { force: true });
    if (attempt >= FIT_ATTEMPTS) {
      throw new ServiceError("SERVICE_DB_UNUSABLE", "台帳とサービスの複製が同じ位置で取れませんでした", {
        reason: "busy",
        attempts: attempt,
      });
    }
  }
}

/** Entries the ledger copy holds past the service copy's command-log position (0 off a cluster). */
function positionGap(serviceCopy: string, ledgerCopy: string): number {
  const db = new Database(serviceCopy, { readonly: true, fileMustExist: true });
  let position: number | undefined;
  try {
    const table = db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cluster_position'")
      .get();
    if (table !== undefined)
      position = db
        .prepare<[], { ledger_size: number }>("SELECT ledger_size FROM cluster_position WHERE id = 1")
        .get()?.ledger_size;
  } finally {
    db.close();
  }
  if (position === undefined) return 0;
  const log = openSqliteLog(ledgerCopy);
  try {
    return log.size() - position;
  } finally {
    log.close();
  }
}

/** The node's own scrub queue stays out of its generations (generation-scrub-queue.ts says why). */
function withoutScrubQueue(serviceCopy: string): void {
  const db = new Database(serviceCopy, { fileMustExist: true });
  try {
    dropScrubQueue(db);
  } finally {
    db.close();
  }
}

async function snapshotFile(from: string, to: string): Promise<void> {
  const reader = openReadOnly(from);
  try {
    await snapshot(reader, to);
  } finally {
    reader.close();
  }
}

export function openReadOnly(path: string): Database.Database {
  assertSqliteRuntime();
  try {
    return new Database(path, { readonly: true, fileMustExist: true });
  } catch (cause) {
    throw new ServiceError("SERVICE_DB_UNUSABLE", "データベースファイルを開けません", {}, { cause });
  }
}

/** Size and latest signed checkpoint of a ledger snapshot, for the manifest. */
function snapshotLedgerState(path: string): { size: number; checkpoint: string } {
  const log = openSqliteLog(path);
  try {
    const checkpoint = log.latestCheckpoint();
    if (checkpoint === null) {
      throw new ServiceError("SERVICE_DB_UNUSABLE", "台帳に署名済みチェックポイントがありません", {});
    }
    return { size: log.size(), checkpoint: checkpoint.note };
  } finally {
    log.close();
  }
}

/** Size and SHA-256 of a file, hex (the manifest's per-file entries). */
export async function hashFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  const file = await open(path, "r");
  let bytes = 0;
  try {
    for await (const piece of file.createReadStream({ autoClose: false })) {
      hash.update(piece as Buffer);
      bytes += (piece as Buffer).length;
    }
  } finally {
    await file.close();
  }
  return { bytes, sha256: hash.digest("hex") };
}

/** Deletes generations beyond `keep`, oldest first; returns the names deleted. */
async function pruneGenerations(dir: string, keep: number): Promise<string[]> {
  const names = await listGenerations(dir);
  const old = names.slice(0, Math.max(0, names.length - keep));
  for (const name of old) await unlink(join(dir, name));
  return old;
}

/** See backup-leftovers.ts: abandoned plaintext snapshots, `.part` files, key temp files. */
export async function removeLeftovers(paths: DataPaths, now: Date): Promise<string[]> {
  return removeBackupLeftovers({
    dataDir: paths.dir,
    backupsDir: backupsDir(paths),
    keysDir: dirname(backupKeyPath(paths)),
    serviceDb: paths.serviceDb,
    ledgerDb: paths.ledgerDb,
    now,
  });
}
