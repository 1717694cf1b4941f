/**
 * Every node's (and the offline node's) follower of the command log: it applies batches strictly in
 * order, each checked to be the successor of the last one applied (seq and the previous batch's hash),
 * starting from the position the node's own state says it reached — so a restarted node resumes by
 * itself. It watches the log prefix from now on (never from watch history): a batch the watch delivers
 * that is the next one is applied straight from the event (a committed batch, the same bytes a read
 * returns — one round trip less per batch); anything else, a gap or a missed event, is read by key
 * range. That is why etcd compacting its history past the node's last revision does not matter. What
 * does matter is the log being *trimmed* past it (old batches deleted once every node applied them):
 * then it stops with CLUSTER_LOG_TRIMMED, and the node must catch up from a peer instead.
 *
 * `apply` must make the batch's effects and the new position durable together (one SQLite
 * transaction); if it throws, the follower stops with CLUSTER_APPLY_FAILED (a batch is never skipped or
 * applied twice). etcd being unreachable is not fatal: the follower retries at a bounded pace.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Range, type Etcd3, type Watcher } from "etcd3";
import { ClusterError } from "../errors.js";
import { decodeBatch, type CommandBatch, type LogKeys, type LogPosition } from "./command-batch.js";

export interface FollowerOptions {
  readonly client: Etcd3;
  readonly keys: LogKeys;
  readonly nodeName: string;
  readonly from: LogPosition;
  readonly apply: (batch: CommandBatch, position: LogPosition) => void | Promise<void>;
  readonly pageSize?: number;
  /** Longest pause between looks at the log when no wake-up arrives. */
  readonly idleWaitMs?: number;
  /** Report progress under applied/<node> (for lag monitoring and the trim horizon). */
  readonly reportProgress?: boolean;
  /**
   * Member-local (serializable) reads: what the offline node's follower uses against its own etcd
   * learner, which serves no linearizable reads. It then also cannot write its progress (learners take
   * no writes), so set reportProgress to false with it. It polls every idleWaitMs instead of watching
   * (a learner does not serve watches).
   */
  readonly serializable?: boolean;
  readonly onError?: (error: unknown) => void;
}

export interface RunningFollower {
  position(): LogPosition;
  /** The error that stopped the follower, if one did. */
  failure(): ClusterError | undefined;
  /** Resolves once batch `seq` is applied (bounded). */
  waitFor(seq: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const FATAL = new Set([
  "CLUSTER_LOG_GAP",
  "CLUSTER_LOG_ENTRY_INVALID",
  "CLUSTER_LOG_TRIMMED",
  "CLUSTER_APPLY_FAILED",
]);

/** Batches held from watch events before they are applied (beyond: read by range). */
const MAX_DELIVERED = 64;

function seqOfKey(keys: LogKeys, key: string): number {
  const digits = key.slice(keys.log.length);
  return /^[0-9]{16}$/.test(digits) ? Number(digits) : -1;
}

/** The end of a prefix range: the prefix with its last byte incremented. */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

export function startFollower(o: FollowerOptions): RunningFollower {
  const pageSize = o.pageSize ?? 200;
  const idleWaitMs = o.idleWaitMs ?? 1000;
  const onError = o.onError ?? (() => undefined);
  let position = o.from;
  let failure: ClusterError | undefined;
  let stopped = false;
  const waiters = new Set<{ seq: number; resolve: () => void; reject: (e: unknown) => void }>();
  /** Batches the watch delivered that are not applied yet, by seq (the next ones are applied first). */
  const delivered = new Map<number, string>();
  let reporting = false;
  let reported = -1;
  /** Progress under applied/<node>, in the background, one write at a time, always the latest seq. */
  const report = (): void => {
    if (o.reportProgress === false || reporting || stopped || position.seq === reported) return;
    reporting = true;
    const seq = position.seq;
    o.client
      .put(o.keys.applied + o.nodeName)
      .value(String(seq))
      .then(
        () => {
          reported = seq;
          reporting = false;
          report();
        },
        (error: unknown) => {
          reporting = false;
          if (!stopped) onError(error);
        },
      );
  };
  let wake: () => void = () => undefined;
  let wakePromise = Promise.resolve();
  const rearm = (): void => {
    wakePromise = new Promise<void>((resolve) => {
      wake = resolve;
    });
  };

  const settle = (): void => {
    for (const w of waiters) {
      if (position.seq >= w.seq) {
        waiters.delete(w);
        w.resolve();
      } else if (failure !== undefined || stopped) {
        waiters.delete(w);
        w.reject(failure ?? new ClusterError("CLUSTER_UNAVAILABLE", "フォロワーは停止しました", {}));
      }
    }
  };

  const applyNext = async (text: string): Promise<void> => {
    const next = decodeBatch(text, position);
    try {
      await o.apply(next.batch, next.position);
    } catch (cause) {
      // The state machine refused: stop rather than skip or repeat a batch.
      throw new ClusterError(
        "CLUSTER_APPLY_FAILED",
        "コマンドを適用できません",
        { seq: next.batch.seq },
        { cause },
      );
    }
    position = next.position;
    settle();
  };

  const catchUp = async (): Promise<number> => {
    let fromWatch = 0;
    for (let text = delivered.get(position.seq + 1); text !== undefined;) {
      delivered.delete(position.seq + 1);
      await applyNext(text);
      fromWatch++;
      text = delivered.get(position.seq + 1);
    }
    for (const seq of delivered.keys()) if (seq <= position.seq) delivered.delete(seq);
    if (fromWatch > 0) report();
    // Everything the watch delivered is applied: the range read is for gaps and missed events.
    if (fromWatch > 0 && delivered.size === 0) return fromWatch;
    const r = await o.client
      .getAll()
      .inRange(new Range(o.keys.logKey(position.seq + 1), prefixEnd(o.keys.log)))
      .limit(pageSize)
      .serializable(o.serializable === true)
      .exec();
    let applied = 0;
    for (const kv of r.kvs) {
      const seq = seqOfKey(o.keys, kv.key.toString("utf8"));
      if (applied === 0 && seq > position.seq + 1) {
        throw new ClusterError("CLUSTER_LOG_TRIMMED", "必要なコマンドログが etcd から削除されています", {
          needed: position.seq + 1,
          firstAvailable: seq,
        });
      }
      if (seq <= position.seq) continue;
      await applyNext(kv.value.toString("utf8"));
      applied++;
    }
    if (applied > 0) report();
    return applied;
  };

  const run = async (): Promise<void> => {
    let watcher: Watcher | undefined;
    const watch = async (): Promise<void> => {
      await watcher?.cancel().catch(() => undefined);
      // Bounded: a watch that is not created in time is cancelled when it finally is.
      const creating = o.client.watch().prefix(o.keys.log).create();
      const created = await Promise.race([creating, sleep(5000).then(() => undefined)]);
      if (created === undefined) {
        void creating.then((late) => late.cancel()).catch(() => undefined);
        throw new ClusterError("CLUSTER_UNAVAILABLE", "etcd の監視を開始できません", {});
      }
      watcher = created;
      watcher.on("put", (kv) => {
        const seq = seqOfKey(o.keys, kv.key.toString("utf8"));
        // Bounded: a follower far behind reads by range instead of holding every event.
        if (seq > position.seq && delivered.size < MAX_DELIVERED)
          delivered.set(seq, kv.value.toString("utf8"));
        wake();
      });
      // A cancelled watch (e.g. compacted) is only a lost wake-up: the range read is the source of truth.
      watcher.on("error", () => {
        watcher = undefined;
        wake();
      });
    };
    try {
      let watchRetryAt = 0;
      while (!stopped) {
        try {
          if (watcher === undefined && o.serializable !== true && Date.now() >= watchRetryAt) {
            // Without a watch (refused, or etcd unreachable) the follower still polls every idleWaitMs.
            await watch().catch((error: unknown) => {
              watcher = undefined;
              watchRetryAt = Date.now() + 5000;
              onError(error);
            });
          }
          rearm();
          const n = await catchUp();
          if (n === pageSize) continue;
          await Promise.race([wakePromise, sleep(idleWaitMs)]);
        } catch (error) {
          if (error instanceof ClusterError && FATAL.has(error.code)) {
            failure = error;
            onError(error);
            return;
          }
          onError(error);
          await sleep(200);
        }
      }
    } finally {
      await watcher?.cancel().catch(() => undefined);
      settle();
    }
  };
  const running = run().finally(settle);

  return {
    position: () => position,
    failure: () => failure,
    waitFor(seq, timeoutMs = 15_000) {
      if (position.seq >= seq) return Promise.resolve();
      if (failure !== undefined) return Promise.reject(failure);
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new ClusterError("CLUSTER_WAIT_TIMEOUT", "コマンドログの適用待ちが時間切れです", { seq }));
        }, timeoutMs);
        const w = {
          seq,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
          reject: (e: unknown) => {
            clearTimeout(timer);
            reject(e instanceof Error ? e : new Error(String(e)));
          },
        };
        waiters.add(w);
      });
    },
    async stop() {
      stopped = true;
      wake();
      await running;
    },
  };
}
