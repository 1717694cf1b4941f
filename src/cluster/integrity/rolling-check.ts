/**
 * Runs the full check on a schedule (minutes in production, seconds in tests): each run's outcome goes
 * into the node's health (last full check), findings quarantine the node (all but a payload chunk's:
 * `quarantinesNode`) and are handed to `onDamage` (the repair), a clean run lifts a quarantine whose
 * damage is gone, and the next run starts `intervalMs` after the previous one ended — runs never overlap,
 * and none starts while a repair is under way. `stop()` waits for a run in progress.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ClusterError } from "../errors.js";
import { quarantinesNode, type Finding } from "./finding.js";
import type { FullCheckResult } from "./full-check.js";
import type { NodeHealth } from "./node-health.js";

export interface RollingCheckOptions {
  readonly intervalMs: number;
  readonly health: NodeHealth;
  /** One full check (`runFullCheck` with the node's files and the latest published checkpoint). */
  readonly check: () => Promise<FullCheckResult> | FullCheckResult;
  /** Called with the findings of a failed run (after the node was quarantined, unless all are chunks). */
  readonly onDamage?: (findings: readonly Finding[]) => Promise<void>;
  /** Called when a run itself throws (the schedule goes on). */
  readonly onError?: (error: unknown) => void;
  /** Monotonic milliseconds for durations (injected). */
  readonly clock?: () => number;
}

export interface RollingCheck {
  /** Runs one check now (waits for a run in progress first). */
  runNow(): Promise<FullCheckResult>;
  stop(): Promise<void>;
}

export function startRollingCheck(o: RollingCheckOptions): RollingCheck {
  if (!Number.isFinite(o.intervalMs) || o.intervalMs < 10) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "点検の間隔が正しくありません", {
      intervalMs: o.intervalMs,
    });
  }
  const clock = o.clock ?? (() => performance.now());
  let stopped = false;
  let current: Promise<FullCheckResult> | undefined;
  const abort = new AbortController();

  const runOnce = async (): Promise<FullCheckResult> => {
    const started = clock();
    const result = await o.check();
    o.health.recordFullCheck({
      ok: result.findings.length === 0,
      durationMs: Math.round(clock() - started),
      findings: result.findings.length,
    });
    // Damage local to one transfer (a chunk) holds that transfer only, never the node (finding.ts).
    const nodeWide = result.findings.filter(quarantinesNode);
    if (nodeWide.length > 0) o.health.quarantine(nodeWide);
    else if (o.health.state === "quarantined") {
      // The whole copy checked clean again, chunks aside (everything the entry watch checks is part of
      // this check).
      o.health.rejoin();
    }
    if (result.findings.length > 0) await o.onDamage?.(result.findings);
    return result;
  };

  const exclusive = (): Promise<FullCheckResult> => {
    const previous = current ?? Promise.resolve(undefined);
    const run = previous.catch(() => undefined).then(runOnce);
    current = run;
    return run;
  };

  const loop = async (): Promise<void> => {
    while (!stopped) {
      try {
        await sleep(o.intervalMs, undefined, { signal: abort.signal });
      } catch {
        return;
      }
      if (o.health.state === "repairing") continue;
      try {
        await exclusive();
      } catch (error) {
        o.onError?.(error);
      }
    }
  };
  const looping = loop();

  return {
    runNow: exclusive,
    async stop() {
      stopped = true;
      abort.abort();
      await looping;
      await current?.catch(() => undefined);
    },
  };
}
