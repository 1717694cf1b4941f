/**
 * Backup generations on a schedule while the node runs (issue 11: the offline node keeps encrypted
 * generations of its own copy): every `intervalMs` one generation — SQLite's online backup API, so
 * writers carry on; sealed with the backup key, never the KEK; pruned to `keep`. Runs never overlap (nor
 * with the work passed to `exclusive`, the scrub of deleted transfers from the generations); a
 * failed run is reported and the schedule goes on; `stop()` waits for a run in progress.
 *
 * `startBackupSchedule` takes `createBackup` (recorded as a `backup.create` entry) on a node with a
 * service context; the offline node passes its own `take` to `startGenerationSchedule` (it cannot append
 * and records each generation as a monitoring fact, cluster/offline-node.ts).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createBackup, type BackupInfo } from "./backup.js";
import type { GenerationInfo } from "./backup-generation.js";
import { systemActor, type ServiceContext } from "../context.js";
import { ServiceError } from "../errors.js";

export interface BackupSchedule {
  /** Takes one generation now (after a run in progress). */
  runNow(): Promise<GenerationInfo>;
  /**
   * Runs other work on the generations (the scrub, generation-scrub.ts) in the same line as the takes:
   * never while one runs, since a take prunes files a scrub would rename back.
   */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

export interface GenerationScheduleOptions {
  readonly intervalMs: number;
  readonly take: () => Promise<GenerationInfo>;
  readonly onBackup?: (info: GenerationInfo) => void;
  readonly onError?: (error: unknown) => void;
}

export function startGenerationSchedule(o: GenerationScheduleOptions): BackupSchedule {
  if (!Number.isFinite(o.intervalMs) || o.intervalMs < 100) {
    throw new ServiceError("SERVICE_CONFIG_INVALID", "バックアップの間隔が正しくありません", {
      intervalMs: o.intervalMs,
    });
  }
  const abort = new AbortController();
  let current: Promise<unknown> | undefined;
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = (current ?? Promise.resolve(undefined)).catch(() => undefined).then(work);
    current = run;
    return run;
  };
  const take = (): Promise<GenerationInfo> => exclusive(o.take);
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
    exclusive,
    async stop() {
      abort.abort();
      await looping;
      await current?.catch(() => undefined);
    },
  };
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
  const actor = systemActor("backup-schedule");
  return startGenerationSchedule({
    intervalMs: o.intervalMs,
    take: () => createBackup(ctx, actor, o.chunkSize !== undefined ? { chunkSize: o.chunkSize } : {}),
    ...(o.onBackup !== undefined ? { onBackup: o.onBackup } : {}),
    ...(o.onError !== undefined ? { onError: o.onError } : {}),
  });
}
