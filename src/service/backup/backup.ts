/**
 * Online backups of a node (`kenshin backup create|verify|restore`): snapshots of service.db and
 * ledger.db taken with SQLite's online backup API while the service keeps running, packed with a
 * manifest into one encrypted file (`backup-file.ts`), kept in `config.backup.keep` generations.
 *
 * The backup key (`keys/backup.key`, 32 random bytes, base64, mode 0600, made on first use) is not the
 * key-encryption key. A backup holds payload ciphertext whose data keys are wrapped by the KEK, and the
 * KEK is never in a backup, so a backup (even with its key) cannot read a payload; and once `kenshin
 * keys rotate` has destroyed the KEK a deleted transfer's data key was wrapped under, that transfer is
 * unreadable in every older backup too. Store the backup key apart from the backups.
 *
 * Restore verifies the file first (every chunk, every file hash, fsck of the ledger snapshot against
 * `keys/ledger.vkey`), replaces the databases, and runs fsck again on the restored ledger as the node
 * opens it before anything can serve from it.
 */
import Database from "better-sqlite3";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rename, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { fsck, type FsckResult } from "../../ledger/fsck.js";
import { openCheckpoint } from "../../ledger/verify/checkpoint.js";
import { parseVerifierKey, type VerifierKey } from "../../ledger/verify/verifier-key.js";
import { openSqliteLog } from "../../store/sqlite-log.js";
import { assertSqliteRuntime } from "../../store/sqlite-runtime.js";
import { adminRecord, audit } from "../audit/audit.js";
import { workPrefix } from "./backup-leftovers.js";
import { removeLeftovers, takeGeneration, type GenerationInfo } from "./backup-generation.js";
import { fsyncDir, loadBackupKey, unusable } from "./backup-key.js";
import { rememberCheckpoint } from "../signing/checkpoint-memory.js";
import { checkBackupPayloads, type BackupPayloads } from "./backup-payloads.js";
import { backupInvalid, readBackupFile, type BackupManifest } from "./backup-file.js";
import { systemActor, type Actor, type ServiceContext } from "../context.js";
import { dataPaths, type DataPaths } from "../data-dir.js";
import { ServiceError } from "../errors.js";
import { closeNode, openNode, type Clock } from "../node.js";

/** What createBackup made (also the row it records in `backups`). */
export type BackupInfo = GenerationInfo;

export { backupKeyPath } from "./backup-key.js";
export { backupsDir, removeLeftovers } from "./backup-generation.js";

/** The pid file a running server keeps (written on listen, removed on close); restore refuses while it is alive. */
export function serverPidPath(dataDir: string): string {
  return join(dataDir, "server.pid");
}

/**
 * Takes a backup while the node keeps serving, records it (row in `backups`, `backup.create` ledger
 * entry) and deletes generations beyond `config.backup.keep`.
 * @param options.chunkSize plaintext bytes per encrypted chunk (tests use small ones to cross boundaries)
 */
export async function createBackup(
  ctx: ServiceContext,
  actor: Actor,
  options: { chunkSize?: number } = {},
): Promise<BackupInfo> {
  const info = await takeGeneration({
    paths: ctx.paths,
    db: ctx.db,
    nodeName: ctx.config.nodeName,
    keep: ctx.config.backup.keep,
    now: ctx.now,
    random: ctx.random,
    ...(options.chunkSize !== undefined ? { chunkSize: options.chunkSize } : {}),
  });
  ctx.db
    .prepare("INSERT INTO backups (file, sha256, bytes, ledger_size, created_at) VALUES (?, ?, ?, ?, ?)")
    .run(basename(info.file), info.sha256, info.bytes, info.ledgerSize, info.createdAt);
  await audit(ctx, [
    adminRecord(
      ctx,
      actor,
      "backup.create",
      { kind: "backup", id: basename(info.file) },
      "success",
      `ledger size ${info.ledgerSize}; sha256 ${info.sha256}; pruned ${info.pruned.length}`,
    ),
  ]);
  return info;
}

/**
 * Decrypts a backup into a private working directory and checks it: every chunk authenticates, every
 * file has its manifest size and SHA-256, service.db passes SQLite's quick_check, and the ledger snapshot
 * passes fsck against this node's verifier key with the size and checkpoint the manifest names.
 * @throws ServiceError BACKUP_INVALID on any failure; SERVICE_DATA_DIR_UNUSABLE without the keys
 */
export async function verifyBackup(
  paths: DataPaths,
  file: string,
): Promise<{
  manifest: BackupManifest;
  fsck: Extract<FsckResult, { ok: true }>;
  payloads: BackupPayloads;
}> {
  const [key, vkey] = [await loadBackupKey(paths), await loadVerifierKey(paths)];
  await removeLeftovers(paths, new Date());
  const work = await mkdtemp(join(paths.dir, workPrefix()));
  try {
    const checked = await unpackAndCheck(file, key, vkey, work);
    return { ...checked, payloads: await checkBackupPayloads(join(work, "service.db"), paths.kek) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Restores a backup into a data directory whose node is not running: verifies it, moves the current
 * databases (with their -wal/-shm) aside into `restore-previous-<time>/`, puts the snapshots in place,
 * opens the node and runs fsck on the restored ledger, then records a `backup.restore` entry.
 *
 * The log goes back to the backup's size: checkpoints signed after the backup are contradicted once the
 * node appends again, and a verifier holding one will see the inconsistency — the truthful record that
 * entries were lost. (In a cluster a node would catch up from its peers instead.)
 * @throws ServiceError SERVICE_BUSY while server.pid names a live process; BACKUP_INVALID
 */
export async function restoreBackup(
  dataDir: string,
  file: string,
  options: { actor?: Actor; clock?: Clock; env?: NodeJS.ProcessEnv } = {},
): Promise<{ ledgerSize: number; checkpoint: string; previous: string }> {
  const paths = dataPaths(dataDir);
  assertNotServing(dataDir);
  const [key, vkey] = [await loadBackupKey(paths), await loadVerifierKey(paths)];
  const now = options.clock?.now() ?? new Date();
  await removeLeftovers(paths, now);
  const work = await mkdtemp(join(dataDir, workPrefix()));
  const previous = join(dataDir, `restore-previous-${now.toISOString().replace(/[-:]/g, "")}`);
  let manifest: BackupManifest;
  try {
    manifest = (await unpackAndCheck(file, key, vkey, work)).manifest;
    await mkdir(previous, { mode: 0o700 });
    for (const db of [paths.serviceDb, paths.ledgerDb]) {
      for (const suffix of ["", "-wal", "-shm"]) {
        // A stale -wal beside a replaced database would be replayed into it, so they move together.
        if (existsSync(db + suffix)) await rename(db + suffix, join(previous, basename(db) + suffix));
      }
    }
    // Each rename is atomic (same file system); the old set stays complete in `previous` until then.
    await rename(join(work, "service.db"), paths.serviceDb);
    await rename(join(work, "ledger.db"), paths.ledgerDb);
    await fsyncDir(dataDir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const ctx = await openNode(dataDir, {
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  try {
    const result = ctx.ledger.fsck(vkey);
    // Opening the node signs a checkpoint over entries the snapshot held unsigned (checkpoints follow
    // appends on a cadence); a snapshot signed to its end keeps its checkpoint.
    const fullySigned =
      openCheckpoint(manifest.ledger.checkpoint, vkey).checkpoint.size === manifest.ledger.size;
    const checkpoint = ctx.ledger.latestCheckpoint().note;
    if (
      !result.ok ||
      result.size !== manifest.ledger.size ||
      (fullySigned && checkpoint !== manifest.ledger.checkpoint)
    ) {
      throw backupInvalid("fsck", {
        restored: true,
        ...(result.ok ? { size: result.size } : { code: result.code }),
      });
    }
    await audit(ctx, [
      adminRecord(
        ctx,
        options.actor ?? systemActor("kenshin-backup"),
        "backup.restore",
        { kind: "backup", id: basename(file) },
        "success",
        `ledger restored to size ${manifest.ledger.size} from a backup of ${manifest.createdAt}`,
      ),
    ]);
    // The one deliberate step back: the node's memory of its ledger follows the restore.
    rememberCheckpoint(ctx.paths, ctx.ledger.latestCheckpoint().note);
  } finally {
    closeNode(ctx);
  }
  // Verified: the replaced databases go, payloads included (they must not outlive retention).
  await removeLeftovers(paths, now);
  return { ledgerSize: manifest.ledger.size, checkpoint: manifest.ledger.checkpoint, previous };
}

/** Decrypts into `work` and runs every check; leaves the verified snapshots there. */
async function unpackAndCheck(
  file: string,
  key: Uint8Array,
  vkey: VerifierKey,
  work: string,
): Promise<{ manifest: BackupManifest; fsck: Extract<FsckResult, { ok: true }> }> {
  await chmod(work, 0o700);
  const manifest = await readBackupFile({ file, key, dir: work });
  for (const f of manifest.files) {
    if (f.name === "ledger.db") continue;
    const db = openReadOnly(join(work, f.name), "database");
    try {
      const check = db.pragma("quick_check", { simple: true });
      if (check !== "ok") {
        throw backupInvalid("database", { file: f.name, check: String(check).slice(0, 200) });
      }
    } catch (cause) {
      throw cause instanceof ServiceError ? cause : backupInvalid("database", { file: f.name }, cause);
    } finally {
      db.close();
    }
  }
  let log;
  try {
    log = openSqliteLog(join(work, "ledger.db"));
  } catch (cause) {
    throw backupInvalid("database", { file: "ledger.db" }, cause);
  }
  try {
    const result = fsck(log, vkey);
    if (!result.ok) throw backupInvalid("fsck", { code: result.code, firstBadIndex: result.firstBadIndex });
    if (result.size !== manifest.ledger.size || log.latestCheckpoint()?.note !== manifest.ledger.checkpoint) {
      throw backupInvalid("fsck", { why: "manifest and ledger differ", size: result.size });
    }
    return { manifest, fsck: result };
  } finally {
    log.close();
  }
}

function openReadOnly(path: string, reason?: "database"): Database.Database {
  assertSqliteRuntime();
  try {
    return new Database(path, { readonly: true, fileMustExist: true });
  } catch (cause) {
    if (reason !== undefined) throw backupInvalid(reason, { file: basename(path) }, cause);
    throw new ServiceError("SERVICE_DB_UNUSABLE", "台帳ファイルを開けません", {}, { cause });
  }
}

async function loadVerifierKey(paths: DataPaths): Promise<VerifierKey> {
  try {
    return parseVerifierKey((await readFile(paths.ledgerVerifierKey, "utf8")).trim());
  } catch (cause) {
    throw unusable("台帳の検証鍵 (keys/ledger.vkey) を読めません", cause);
  }
}

/** Refuses while server.pid names a live process (signal 0 probes without signalling). */
function assertNotServing(dataDir: string): void {
  let text: string;
  try {
    text = readFileSync(serverPidPath(dataDir), "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return;
    throw unusable("server.pid を読めません", cause);
  }
  const pid = Number(text.trim());
  if (!Number.isSafeInteger(pid) || pid <= 0) throw unusable("server.pid の内容が正しくありません");
  try {
    process.kill(pid, 0);
  } catch (cause) {
    // ESRCH: no such process, the file is left from a crash. EPERM: alive, owned by someone else.
    if ((cause as NodeJS.ErrnoException).code === "ESRCH") return;
  }
  throw new ServiceError("SERVICE_BUSY", "サービスが稼働中です。停止してから復元してください", { pid });
}
