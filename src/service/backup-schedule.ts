/**
 * Backup generations on a schedule while the node runs (issue 11: the offline node keeps encrypted
 * generations of its own copy): every `intervalMs` one `createBackup` — SQLite's online backup API, so
 * writers carry on; sealed with the backup key, never the KEK; pruned to `config.backup.keep`. Runs never
 * overlap; a failed run is reported and the schedule goes on; `stop()` waits for a run in progress.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createBackup, type BackupInfo } from "./backup.js";
import { systemActor, type ServiceContext } from "./context.js";
import { ServiceError } from "./errors.js";

export interface BackupSchedule {
  /** Takes one generation now (after a run in progress). */
  runNow(): Promise<BackupInfo>;
  stop(): Promise<void>;
}

export function startBackupSchedule(
  ctx: ServiceContext,
  o: {
    readonly intervalMs: number;
    readonly onBackup?: (info: BackupInfo) => void;
    readonly onError?: (error: unknown) => void;
    readonly chunkSize?: number;
  },
): BackupSchedule {
  if (!Number.isFinite(o.intervalMs) || o.intervalMs < 100) {
    throw new ServiceError("SERVICE_CONFIG_INVALID", "バックアップの間隔が正しくありません", {
      intervalMs: o.intervalMs,
    });
  }
  const actor = systemActor("backup-schedule");
  const abort = new AbortController();
  let current: Promise<BackupInfo> | undefined;
  const take = (): Promise<BackupInfo> => {
    const run = (current ?? Promise.resolve(undefined))
      .catch(() => undefined)
      .then(() => createBackup(ctx, actor, o.chunkSize !== undefined ? { chunkSize: o.chunkSize } : {}));
    current = run;
    return run;
  };
  const loop = async (): Promise<void> => {
    for (;;) {
      try {
        await sleep(o.intervalMs, undefined, { signal: abort.signal });
      } catch {
        return;
      }
      try {
        o.onBackup?.(await take());
      } catch (error) {
        o.onError?.(error);
      }
    }
  };
  const looping = loop();
  return {
    runNow: take,
    async stop() {
      abort.abort();
      await looping;
      await current?.catch(() => undefined);
    },
  };
}
