/**
 * An etcd lease whose keep-alive this process owns, for every key that must vanish when its holder
 * dies: the sequencer election's candidacy (command-log/sequencer-election.ts) and a node's presence
 * (node-presence.ts).
 *
 * Why not the etcd3 client's `Lease` with its automatic keep-alive: a lease it had given up ("lost"
 * after a keep-alive gap, as happens without a majority or on a loaded machine) could go on being
 * renewed — keep-alive streams of the client's Lease outlive its `close()` when two errors race — so a
 * key meant to vanish stayed alive. That held the sequencer election for a candidacy nobody listened to
 * (the no-quorum hang, CI of 2026-12-01).
 *
 * The rule, checked here only: the lease is renewed only by its own loop, one renewal at a time, each
 * bounded by a deadline; once it ends (released, or possibly expired: no renewal acknowledged for a
 * whole TTL, or etcd answered that it is gone), nothing renews it again. So a key under an ended lease
 * leaves at the latest one TTL after etcd has a leader again (at once when the revoke, tried once on
 * the way out, gets through). Every etcd call has a deadline.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Etcd3 } from "etcd3";
import { ClusterError } from "./errors.js";

export interface OwnLeaseOptions {
  readonly ttlSeconds: number;
  /** Deadline of each etcd call (default 2 s). */
  readonly callMs?: number;
  /** Called once when the lease ended without a release (expired, refused or unreachable for a TTL). */
  readonly onLost?: (error: ClusterError) => void;
}

export interface OwnLease {
  /** The lease ID (what `put(...).lease(id)` takes). */
  readonly id: string;
  /** Whether the lease ended (released or lost); an ended lease is never renewed again. */
  ended(): boolean;
  /** Resolves when the lease ends. */
  readonly whenEnded: Promise<void>;
  /** Ends the lease and revokes it (bounded; it expires anyway, nothing renews it). */
  release(): Promise<void>;
}

export function leaseLostError(cause?: unknown): ClusterError {
  return new ClusterError(
    "CLUSTER_UNAVAILABLE",
    "etcd のリースを保てませんでした",
    { lease: "lost" },
    cause === undefined ? {} : { cause },
  );
}

class RenewedLease implements OwnLease {
  readonly id: string;
  readonly whenEnded: Promise<void>;
  readonly #client: Etcd3;
  readonly #ttlMs: number;
  readonly #callMs: number;
  readonly #onLost: ((error: ClusterError) => void) | undefined;
  #ended = false;
  #endSignal!: () => void;

  constructor(client: Etcd3, id: string, grantedAt: number, o: OwnLeaseOptions) {
    this.#client = client;
    this.id = id;
    this.#ttlMs = o.ttlSeconds * 1000;
    this.#callMs = o.callMs ?? 2000;
    this.#onLost = o.onLost;
    this.whenEnded = new Promise((resolve) => {
      this.#endSignal = resolve;
    });
    void this.#keepAlive(grantedAt);
  }

  ended(): boolean {
    return this.#ended;
  }

  async release(): Promise<void> {
    this.#end();
    await this.#client.leaseClient
      .leaseRevoke({ ID: this.id }, this.#deadline())
      .then(() => undefined)
      .catch(() => undefined);
  }

  #deadline(): { deadline: Date } {
    return { deadline: new Date(Date.now() + this.#callMs) };
  }

  #end(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#endSignal();
    return true;
  }

  #lost(): void {
    if (!this.#end()) return;
    // Tried once: without a majority now, the lease expires by itself once etcd has one (nobody renews it).
    void this.release();
    this.#onLost?.(leaseLostError());
  }

  /** One keep-alive round trip; the TTL etcd answered (0: the lease is gone). */
  async #renewOnce(): Promise<number> {
    const stream = await this.#client.leaseClient.leaseKeepAlive(this.#deadline());
    try {
      const answered = new Promise<number>((resolve, reject) => {
        stream.on("data", (res: { TTL: string }) => {
          resolve(Number(res.TTL));
        });
        stream.on("error", reject);
        stream.on("end", () => {
          reject(leaseLostError());
        });
      });
      answered.catch(() => undefined);
      stream.write({ ID: this.id });
      const timeout = sleep(this.#callMs).then(() => {
        throw leaseLostError();
      });
      timeout.catch(() => undefined);
      return await Promise.race([answered, timeout]);
    } finally {
      try {
        stream.end();
      } catch {
        // already ended
      }
    }
  }

  /** Renews until the lease ends; ends it when a whole TTL passed without an acknowledged renewal. */
  async #keepAlive(grantedAt: number): Promise<void> {
    let renewedAt = grantedAt;
    while (!this.#ended) {
      await Promise.race([sleep(this.#ttlMs / 3), this.whenEnded]);
      if (this.ended()) return;
      const sentAt = Date.now();
      try {
        const ttl = await this.#renewOnce();
        if (this.ended()) return;
        if (!(ttl > 0)) {
          this.#lost();
          return;
        }
        renewedAt = sentAt;
      } catch {
        // Counted below: only a whole TTL without a renewal ends the lease.
      }
      if (Date.now() - renewedAt >= this.#ttlMs) {
        this.#lost();
        return;
      }
    }
  }
}

/**
 * Grants a lease of `ttlSeconds` and renews it from its own loop until released or lost.
 * @throws what etcd answered (bounded by `callMs`): no lease was granted
 */
export async function grantOwnLease(client: Etcd3, o: OwnLeaseOptions): Promise<OwnLease> {
  const askedAt = Date.now();
  const r = await client.leaseClient.leaseGrant(
    { TTL: o.ttlSeconds },
    { deadline: new Date(askedAt + (o.callMs ?? 2000)) },
  );
  return new RenewedLease(client, r.ID, askedAt, o);
}
