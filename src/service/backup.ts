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
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import {
  chmod,
  link,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
} from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fsck, type FsckResult } from "../ledger/fsck.js";
import { openCheckpoint } from "../ledger/verify/checkpoint.js";
import { parseVerifierKey, type VerifierKey } from "../ledger/verify/verifier-key.js";
import { openSqliteLog } from "../store/sqlite-log.js";
import { assertSqliteRuntime } from "../store/sqlite-runtime.js";
import { adminRecord, audit } from "./audit.js";
import { keyTempName, partName, removeBackupLeftovers, workPrefix } from "./backup-leftovers.js";
import { rememberCheckpoint } from "./checkpoint-memory.js";
import { checkBackupPayloads, type BackupPayloads } from "./backup-payloads.js";
import {
  BACKUP_KEY_BYTES,
  backupInvalid,
  readBackupFile,
  writeBackupFile,
  type BackupManifest,
} from "./backup-file.js";
import { systemActor, type Actor, type ServiceContext } from "./context.js";
import { dataPaths, type DataPaths } from "./data-dir.js";
import { ServiceError } from "./errors.js";
import { closeNode, openNode, type Clock } from "./node.js";

/** What createBackup made (also the row it records in `backups`). */
export interface BackupInfo {
  /** Absolute path of the backup file. */
  readonly file: string;
  /** SHA-256 of the encrypted file, hex. */
  readonly sha256: string;
  readonly bytes: number;
  readonly ledgerSize: number;
  readonly createdAt: string;
}

/** Name of a backup generation: the UTC time it was taken, so names sort by age. */
const BACKUP_NAME = /^kenshin-\d{8}T\d{6}\.\d{3}Z\.kxb$/;
/** Pages per backup step: everything, so one step copies a consistent snapshot (see snapshot()). */
const ALL_PAGES = 0x7fffffff;

/** `keys/backup.key`, beside the other keys. */
export function backupKeyPath(paths: DataPaths): string {
  return join(dirname(paths.kek), "backup.key");
}

/** Where the generations are kept. */
export function backupsDir(paths: DataPaths): string {
  return join(paths.dir, "backups");
}

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
  const paths = ctx.paths;
  const key = await loadBackupKey(paths, ctx.random);
  const dir = backupsDir(paths);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const createdAt = ctx.now().toISOString();
  const file = join(dir, `kenshin-${createdAt.replace(/[-:]/g, "")}.kxb`);
  const part = join(dir, partName(basename(file)));
  await removeLeftovers(paths, ctx.now());
  const work = await mkdtemp(join(paths.dir, workPrefix()));
  let written: { bytes: number; sha256: string };
  let manifest: BackupManifest;
  try {
    await chmod(work, 0o700);
    // service.db first, then ledger.db: the ledger snapshot is then at least as new as every service row
    // that names a ledger entry. (A state change and its entries commit in service.db first, with the
    // entries in the ledger outbox, and reach ledger.db in the same synchronous step; an outbox entry the
    // ledger snapshot lacks is appended when the restored node opens.)
    await snapshot(ctx.db, join(work, "service.db"));
    const ledgerReader = openReadOnly(paths.ledgerDb);
    try {
      await snapshot(ledgerReader, join(work, "ledger.db"));
    } finally {
      ledgerReader.close();
    }
    const ledger = snapshotLedgerState(join(work, "ledger.db"));
    const files = [];
    for (const name of ["service.db", "ledger.db"] as const)
      files.push({ name, ...(await hashFile(join(work, name))) });
    manifest = { format: 1, node: ctx.config.nodeName, createdAt, files, ledger };
    written = await writeBackupFile({
      out: part,
      key,
      salt: ctx.random(32),
      manifest,
      dir: work,
      ...(options.chunkSize !== undefined ? { chunkSize: options.chunkSize } : {}),
    });
    // link, not rename: never replaces a generation of the same millisecond (EEXIST instead).
    await link(part, file);
    await fsyncDir(dir);
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(part, { force: true });
  }
  ctx.db
    .prepare("INSERT INTO backups (file, sha256, bytes, ledger_size, created_at) VALUES (?, ?, ?, ?, ?)")
    .run(basename(file), written.sha256, written.bytes, manifest.ledger.size, createdAt);
  const pruned = await pruneGenerations(dir, ctx.config.backup.keep);
  await audit(ctx, [
    adminRecord(
      ctx,
      actor,
      "backup.create",
      { kind: "backup", id: basename(file) },
      "success",
      `ledger size ${manifest.ledger.size}; sha256 ${written.sha256}; pruned ${pruned.length}`,
    ),
  ]);
  return { file, ...written, ledgerSize: manifest.ledger.size, createdAt };
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
  const service = openReadOnly(join(work, "service.db"), "database");
  try {
    const check = service.pragma("quick_check", { simple: true });
    if (check !== "ok") throw backupInvalid("database", { check: String(check).slice(0, 200) });
  } catch (cause) {
    throw cause instanceof ServiceError ? cause : backupInvalid("database", {}, cause);
  } finally {
    service.close();
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

function openReadOnly(path: string, reason?: "database"): Database.Database {
  assertSqliteRuntime();
  try {
    return new Database(path, { readonly: true, fileMustExist: true });
  } catch (cause) {
    if (reason !== undefined) throw backupInvalid(reason, { file: basename(path) }, cause);
    throw new ServiceError("SERVICE_DB_UNUSABLE", "台帳ファイルを開けません", {}, { cause });
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

async function hashFile(path: string): Promise<{ bytes: number; sha256: string }> {
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

/**
 * Reads `keys/backup.key`; with `random`, creates it when missing: written to a temp file, fsynced, then
 * linked into place (link fails when the name exists, so two first backups cannot end up with
 * different keys, and a kill at any moment leaves either no key file or a whole one). An empty key
 * file, left by a kill during an older version's first backup, never encrypted anything and is
 * replaced. Refuses a file group or others could read.
 */
async function loadBackupKey(paths: DataPaths, random?: (n: number) => Uint8Array): Promise<Uint8Array> {
  const path = backupKeyPath(paths);
  if (random !== undefined && existsSync(path) && (await stat(path)).size === 0) await unlink(path);
  if (random !== undefined && !existsSync(path)) {
    const tmp = keyTempName(path);
    const fresh = Buffer.from(random(BACKUP_KEY_BYTES));
    try {
      const handle = await open(tmp, "w", 0o600);
      try {
        await handle.writeFile(`${fresh.toString("base64")}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await link(tmp, path);
      await fsyncDir(dirname(path));
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== "EEXIST")
        throw unusable("バックアップ鍵を作れません", cause);
    } finally {
      fresh.fill(0);
      await rm(tmp, { force: true });
    }
  }
  let text: string;
  try {
    if (((await stat(path)).mode & 0o077) !== 0) {
      throw unusable("バックアップ鍵のファイルが所有者以外から読めます (chmod 600 にしてください)");
    }
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw cause instanceof ServiceError ? cause : unusable("バックアップ鍵を読めません", cause);
  }
  const key = Buffer.from(text.trim(), "base64");
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text.trim()) || key.length !== BACKUP_KEY_BYTES) {
    throw unusable("バックアップ鍵の形式が正しくありません (32 バイトの base64)");
  }
  return key;
}

async function loadVerifierKey(paths: DataPaths): Promise<VerifierKey> {
  try {
    return parseVerifierKey((await readFile(paths.ledgerVerifierKey, "utf8")).trim());
  } catch (cause) {
    throw unusable("台帳の検証鍵 (keys/ledger.vkey) を読めません", cause);
  }
}

function unusable(message: string, cause?: unknown): ServiceError {
  return new ServiceError("SERVICE_DATA_DIR_UNUSABLE", message, {}, { cause });
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

/** Deletes generations beyond `keep`, oldest first; returns the names deleted. */
async function pruneGenerations(dir: string, keep: number): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => BACKUP_NAME.test(n)).sort();
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

async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
