/**
 * What a killed backup or restore leaves behind, and its removal. A backup's working directory holds
 * plaintext snapshots of service.db and ledger.db (with every payload ciphertext and its wrapped data
 * key), so it must not outlive the payloads' retention: nothing but finished encrypted generations may
 * survive. Every working file is named with the id of the process that owns it; leftovers of a process
 * that is gone are removed on every server start and at the start of every backup and restore, while a
 * backup still running in another process keeps its own. A leftover older than an hour goes whatever its
 * name says (a recycled process id must not keep it alive).
 */
import { existsSync } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";

/** Working directories: `.backup-work-<pid>-XXXXXX` (older versions: `.backup-work-XXXXXX`). */
export const WORK_PREFIX = ".backup-work-";
const STALE_MS = 3_600_000;

/** The working-directory prefix for this process (mkdtemp appends six random characters). */
export function workPrefix(): string {
  return `${WORK_PREFIX}${process.pid}-`;
}

/** `.<generation>.<pid>.part`: a generation being written. */
export function partName(generation: string): string {
  return `.${generation}.${process.pid}.part`;
}

/** `backup.key.<pid>.tmp`: the backup key before it is linked into place. */
export function keyTempName(keyFile: string): string {
  return `${keyFile}.${process.pid}.tmp`;
}

/** The owning process id in a leftover's name, or undefined for a name without one. */
function ownerOf(name: string): number | undefined {
  const m = /^\.backup-work-(\d+)-|\.(\d+)\.(?:part|tmp)$/.exec(name);
  const pid = Number(m?.[1] ?? m?.[2]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (cause) {
    // EPERM: alive, owned by someone else.
    return (cause as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether a backup, restore or scrub of a live process (this one included) has its working directory
 * in `dataDir` now — for a generation take, from before its snapshot until its file is in backups/.
 * One older than an hour counts as abandoned, as for its removal.
 */
export async function workInProgress(dataDir: string, now: Date): Promise<boolean> {
  for (const name of existsSync(dataDir) ? await readdir(dataDir) : []) {
    if (!name.startsWith(WORK_PREFIX)) continue;
    const owner = ownerOf(name);
    if (owner === undefined || !alive(owner)) continue;
    try {
      if (now.getTime() - (await stat(join(dataDir, name))).mtimeMs <= STALE_MS) return true;
    } catch {
      // Gone meanwhile: finished.
    }
  }
  return false;
}

async function removeIfAbandoned(dir: string, name: string, now: number): Promise<boolean> {
  const path = join(dir, name);
  const owner = ownerOf(name);
  let old = false;
  try {
    old = now - (await stat(path)).mtimeMs > STALE_MS;
  } catch {
    return false;
  }
  if (owner !== undefined && alive(owner) && !old) return false;
  await rm(path, { recursive: true, force: true });
  return true;
}

/**
 * Removes abandoned working directories, `.part` generations and key temp files, and — once both
 * databases are in place, i.e. a restore finished moving them — the `restore-previous-*` directories a
 * restore keeps while it runs (they hold the replaced databases, payloads included).
 * @returns the names removed, for the caller's record
 */
export async function removeBackupLeftovers(o: {
  dataDir: string;
  backupsDir: string;
  keysDir: string;
  serviceDb: string;
  ledgerDb: string;
  now: Date;
}): Promise<string[]> {
  const removed: string[] = [];
  const now = o.now.getTime();
  const names = async (dir: string): Promise<string[]> => (existsSync(dir) ? readdir(dir) : []);
  for (const name of await names(o.dataDir)) {
    if (name.startsWith(WORK_PREFIX) && (await removeIfAbandoned(o.dataDir, name, now))) removed.push(name);
    if (name.startsWith("restore-previous-") && existsSync(o.serviceDb) && existsSync(o.ledgerDb)) {
      await rm(join(o.dataDir, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  for (const name of await names(o.backupsDir)) {
    if (name.startsWith(".") && name.endsWith(".part") && (await removeIfAbandoned(o.backupsDir, name, now)))
      removed.push(name);
  }
  for (const name of await names(o.keysDir)) {
    if (/^backup\.key\.\d+\.tmp$/.test(name) && (await removeIfAbandoned(o.keysDir, name, now)))
      removed.push(name);
  }
  return removed;
}
