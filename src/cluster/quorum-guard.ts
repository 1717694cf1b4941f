/**
 * Read-only mode as a wrapper around the ledger write port: with two of three online nodes down, the
 * survivor cannot order anything (an ordered, consistent write needs a majority of etcd's voting
 * members), so
 *
 * - a **state change** (an append carrying a state command or a state change) is refused at once with
 *   `CLUSTER_NO_QUORUM` (HTTP 503, Japanese message): nothing is written, the caller may retry later;
 * - an append **without** a state change — the entries that record reads: downloads, trails,
 *   verifications, look-ups, denials — is kept durably in the node's pending queue
 *   (pending-queue.ts, fsynced before `append` resolves) and the read is answered;
 * - once the quorum probe sees a majority again, the queue is appended **in order** through the inner
 *   port, and each item is removed once its append resolved. A drain that fails (the majority is back
 *   but the cluster does not order yet: a sequencer still being elected) is tried again on its own
 *   after a pause, not only when this node takes its next append — a survivor no user reaches any more
 *   (the load balancer sends them to the nodes that came back) must still hand its entries over.
 * - while items wait, a new read's entries join the queue behind them (order kept, the read answered at
 *   once); a new state change waits for the drain and is refused with the 503 when it cannot finish.
 *
 * - a wait for a signed checkpoint covering an entry (`checkpointCovering`, what every read of a
 *   transfer's entries does first) is answered at once when the published checkpoint already covers it;
 *   without a majority none can be published (the online nodes' cosignatures travel through etcd), so
 *   the wait is refused at once with the same coded 503 instead of waiting out its time-out — and the
 *   read that asked is refused as "retry later", never as damage (service/transfers/integrity.ts).
 *
 * A queued append resolves with `index: -1` and an empty leaf hash for each entry (it has no index yet);
 * no caller may ask for a proof of it. A crash between an item's append and its removal appends it again
 * at the next drain (at-least-once); the item id is passed to the inner port as `operationId` when it
 * accepts one, which makes the drain exactly-once.
 */
import { ClusterError } from "./errors.js";
import { noQuorumError, UNPROVEN_MESSAGE } from "./quorum-errors.js";
import type { PendingItem, PendingQueue } from "./pending-queue.js";
import type { QuorumProbe } from "./quorum-probe.js";
import type {
  AppendOptions,
  AppendRequest,
  AppendResult,
  LedgerWritePort,
  PublishedCheckpoint,
} from "../ledger/write-port.js";

export interface QuorumGuardOptions {
  readonly probe: QuorumProbe;
  readonly queue: PendingQueue;
  /** Id for a queued item (unique; e.g. 16 random bytes in hex). */
  readonly newId: () => string;
  readonly now?: () => Date;
  /** Items appended per drain round (default 64). */
  readonly drainBatch?: number;
  /** Told about a drain that failed (retried after `drainRetryMs`, and at the next quorum change). */
  readonly onDrainError?: (error: unknown) => void;
  /** Pause before a failed drain is tried again while items wait and the quorum is there (default 1 s). */
  readonly drainRetryMs?: number;
}

/** What the guard adds to the port it wraps. */
export interface QuorumGuarded {
  /** Appended-later entries waiting on this node. */
  pendingCount(): number;
  /** Appends the queue now if a quorum is there (resolves when the queue is empty or the drain failed). */
  drain(): Promise<void>;
}

export type GuardedWritePort<P extends LedgerWritePort = LedgerWritePort> = P & QuorumGuarded;

function changesState(options: AppendOptions | undefined): boolean {
  return options?.command !== undefined;
}

/**
 * The command log and the pending queue are JSON: record hashes packed 32 bytes each in one array (what
 * a large conversion passes) travel as the hex strings they stand for.
 */
function jsonSafe(request: AppendRequest): AppendRequest {
  const hashes = request.recordHashes;
  if (hashes === undefined) return request;
  if (Array.isArray(hashes)) {
    const list = hashes as readonly (string | Uint8Array)[];
    if (list.every((h) => typeof h === "string")) return request;
    return {
      ...request,
      recordHashes: list.map((h) => (typeof h === "string" ? h : Buffer.from(h).toString("hex"))),
    };
  }
  const packed = hashes as Uint8Array;
  const hex: string[] = [];
  for (let at = 0; at < packed.length; at += 32) {
    hex.push(Buffer.from(packed.buffer, packed.byteOffset + at, 32).toString("hex"));
  }
  return { ...request, recordHashes: hex };
}

/**
 * Wraps a write port (the cluster's, or any other): `append` and `close` are the guard's, everything
 * else the port offers (its read side, status) is the inner port's own, unchanged.
 */
export function guardWritePort<P extends LedgerWritePort>(
  inner: P,
  o: QuorumGuardOptions,
): GuardedWritePort<P> {
  const now = o.now ?? (() => new Date());
  const batch = Math.max(1, o.drainBatch ?? 64);
  const retryMs = Math.max(10, o.drainRetryMs ?? 1000);
  let draining: Promise<void> | undefined;
  let retry: NodeJS.Timeout | undefined;
  let closed = false;

  const appendItem = async (item: PendingItem): Promise<void> => {
    // A port that knows operation ids (the cluster's command ids) makes a repeated drain a no-op.
    const options = { operationId: item.id } as AppendOptions;
    await inner.append(item.requests as readonly AppendRequest[], options);
    o.queue.remove(item.seq);
  };

  const drain = (): Promise<void> => {
    draining ??= (async () => {
      try {
        while (o.probe.hasQuorum()) {
          const items = o.queue.peek(batch);
          if (items.length === 0) return;
          for (const item of items) await appendItem(item);
        }
      } catch (error) {
        o.onDrainError?.(error);
        // Tried again on its own (bounded cadence) while items wait.
        if (!closed && retry === undefined && o.queue.count() > 0) {
          retry = setTimeout(() => {
            retry = undefined;
            if (!closed) void drain();
          }, retryMs);
          retry.unref();
        }
      } finally {
        draining = undefined;
      }
    })();
    return draining;
  };

  const unsubscribe = o.probe.onChange((quorum) => {
    if (quorum) void drain();
  });
  if (o.probe.hasQuorum() && o.queue.count() > 0) void drain();

  const queued = (requests: readonly AppendRequest[]): AppendResult[] => {
    o.queue.enqueue({ id: o.newId(), requests, queuedAt: now().toISOString() });
    return requests.map(() => ({ index: -1, leafHash: "" }));
  };

  const append = async (
    given: readonly AppendRequest[],
    options?: AppendOptions,
  ): Promise<AppendResult[]> => {
    const requests = given.map(jsonSafe);
    // A state change is decided on a confirmed answer (quorum-probe.ts confirm: a majority lost a moment
    // ago is not let into the ordering to wait its whole timeout); a read on the kept one, at once.
    const majority = changesState(options) ? await o.probe.confirm() : o.probe.hasQuorum();
    if (!majority) {
      if (changesState(options)) throw noQuorumError({ pending: o.queue.count() });
      return queued(requests);
    }
    // Order: what was queued while read-only goes first. A read joins the queue behind it (answered at
    // once, appended in its turn); a state change waits for the drain.
    if (o.queue.count() > 0) {
      if (!changesState(options)) {
        const result = queued(requests);
        void drain();
        return result;
      }
      await drain();
      if (o.queue.count() > 0) {
        // The drain could not finish (the majority went again): refused or queued like the rest.
        if (changesState(options)) throw noQuorumError({ pending: o.queue.count() });
        return queued(requests);
      }
    }
    try {
      return await inner.append(requests, options);
    } catch (error) {
      // A read's entries are never lost and the read never refused: when the cluster could not order them
      // (the majority went or is still forming: CLUSTER_UNAVAILABLE), they are kept like any read made
      // without a majority and appended at the next drain (at-least-once, as the queue always is).
      if (!changesState(options) && error instanceof ClusterError && error.code === "CLUSTER_UNAVAILABLE") {
        return queued(requests);
      }
      // The majority went while this call waited (the ordering gave up, or failed otherwise): a state
      // change gets the cluster's one Japanese 503.
      const gaveUp = !(error instanceof ClusterError) || error.code === "CLUSTER_UNAVAILABLE";
      if (!o.probe.hasQuorum() && changesState(options) && gaveUp) {
        throw noQuorumError();
      }
      throw error;
    }
  };

  const checkpointCovering = (index: number): Promise<PublishedCheckpoint> => {
    if (o.probe.hasQuorum()) return inner.checkpointCovering(index);
    let latest: PublishedCheckpoint | undefined;
    try {
      latest = inner.latestCheckpoint();
    } catch {
      // None published yet: nothing can cover the entry until a majority publishes one.
    }
    if (latest !== undefined && latest.size > index) return Promise.resolve(latest);
    return Promise.reject(noQuorumError({ index, published: latest?.size ?? 0 }, UNPROVEN_MESSAGE));
  };

  const own: Record<string | symbol, unknown> = {
    append,
    checkpointCovering,
    pendingCount: () => o.queue.count(),
    drain,
    async close() {
      closed = true;
      if (retry !== undefined) clearTimeout(retry);
      unsubscribe();
      await inner.close();
    },
  };
  return new Proxy(inner, {
    get(target, key, receiver) {
      if (Object.hasOwn(own, key)) return own[key];
      const value: unknown = Reflect.get(target, key, receiver);
      // Methods of the inner port run on the inner port (private fields need their own `this`).
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as GuardedWritePort<P>;
}
