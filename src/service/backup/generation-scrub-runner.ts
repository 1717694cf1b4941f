/**
 * The scrub of deleted transfers from this node's backup generations, run in `kenshin serve` (the
 * embedded node and every online cluster node): the generations `kenshin backup create` and the
 * schedule keep in `<dir>/backups` follow a deletion the way the offline node's do (generation-scrub.ts
 * does the work; the offline node runs its own rounds in line with its schedule, cluster/offline-node.ts).
 *
 * A round runs at start (a queue left by a stop or a kill is scrubbed first) and then every
 * `intervalMs` while the queue is not empty; rounds never overlap; a failed round is retried after
 * `retryMs`. A round put off by a backup in another process (`deferred`) is simply tried again at the
 * next turn.
 */
import type Database from "better-sqlite3";
import type { DataPaths } from "../data-dir.js";
import { scrubGenerations, type ScrubRound } from "./generation-scrub.js";
import { pendingScrubCount } from "./generation-scrub-queue.js";

export interface GenerationScrubOptions {
  readonly db: Database.Database;
  readonly paths: DataPaths;
  readonly random: (n: number) => Uint8Array;
  /** Between looks at the queue (default 2 s). */
  readonly intervalMs?: number;
  /** After a failed round (default one minute). */
  readonly retryMs?: number;
  readonly now?: () => number;
  /** Told about each round that did something (counts and generation names only). */
  readonly onRound?: (round: ScrubRound) => void;
  readonly onError?: (error: unknown) => void;
}

export interface GenerationScrub {
  /** Runs a round now unless one is running (then that one), the queue is empty or a retry waits. */
  round(): Promise<ScrubRound | undefined>;
  /** Stops the timer and waits for a round in progress. */
  stop(): Promise<void>;
}

export function startGenerationScrub(o: GenerationScrubOptions): GenerationScrub {
  const now = o.now ?? Date.now;
  const retryMs = o.retryMs ?? 60_000;
  let current: Promise<ScrubRound | undefined> | undefined;
  let retryAt = 0;
  let stopped = false;
  const run = async (): Promise<ScrubRound | undefined> => {
    try {
      const r = await scrubGenerations({ db: o.db, paths: o.paths, random: o.random });
      if (r.deferred || r.transfers > 0) o.onRound?.(r);
      return r;
    } catch (error) {
      retryAt = now() + retryMs;
      o.onError?.(error);
      return undefined;
    } finally {
      current = undefined;
    }
  };
  const round = (): Promise<ScrubRound | undefined> => {
    if (current !== undefined) return current;
    if (stopped || now() < retryAt || pendingScrubCount(o.db) === 0) return Promise.resolve(undefined);
    current = run();
    return current;
  };
  const tick = (): void => {
    try {
      void round();
    } catch (error) {
      // pendingScrubCount on a database being closed: the next tick (or stop) settles it.
      o.onError?.(error);
    }
  };
  tick();
  const timer = setInterval(tick, o.intervalMs ?? 2000);
  timer.unref();
  return {
    round,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await current;
    },
  };
}
