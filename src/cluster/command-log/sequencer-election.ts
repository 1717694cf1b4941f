/**
 * One candidacy in the sequencer election: etcd's election recipe (the one of etcd's own `concurrency`
 * package, and of the etcd3 client's `Campaign`) — a lease per candidate, a key `<prefix><lease id>`
 * created under that lease, and the candidate whose key has the lowest create revision leads — with
 * this node owning its lease's keep-alive.
 *
 * Why not the etcd3 client's `Campaign`: a candidacy it gave up on ("lost" after a keep-alive gap, as
 * happens without a majority or on a loaded machine) could keep its lease renewed — keep-alive streams
 * of the client's Lease outlive its `close()` when two errors race — and its key then stayed in the
 * election forever. With two nodes down the survivor stood again every half second; once the majority
 * was back, dozens of its given-up keys were alive and the lowest held the election for a campaign the
 * sequencer no longer listened to: nobody sequenced, every append waited its ordering timeout
 * (service-no-quorum, CI of 2026-12-01).
 *
 * Here the candidacy's lease is an own lease (`../own-lease.ts`, shared with the node's presence): renewed
 * only by its own loop, one bounded renewal at a time; once the candidacy ends (resigned, or its lease
 * possibly expired: no renewal acknowledged for a whole TTL), nothing renews it again. So a key of an
 * ended candidacy leaves the election at the latest one TTL after etcd has a leader again (and at once
 * when the revoke, tried once on the way out, gets through). Every etcd call has a deadline.
 *
 * **Standing aside** (issue 11): a node whose own copy failed a check must not order (its state judges
 * every batch, and a sequencer whose replica stopped prepares none: the cluster would wait for its
 * repair). Given a {@link CandidacyGate}, the candidacy creates its key only while the gate is open, and
 * once it stands (elected or not) ends as soon as the gate closes: its lease revoked, "error" emitted
 * with `CLUSTER_QUARANTINED`, so the sequencer stands again and waits at the gate until the node is
 * healthy. A batch of the old leader still in flight then fails its compare of the election key.
 */
import { EventEmitter } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import type { Etcd3 } from "etcd3";
import { ClusterError } from "../errors.js";
import { grantOwnLease, type OwnLease } from "../own-lease.js";

export interface CandidacyOptions {
  /** The election's key prefix, e.g. `election/kenshin/election/` (what `Etcd3.election(name)` reads). */
  readonly prefix: string;
  /** The value of this candidate's key (the node name: what `Election.leader()` returns). */
  readonly value: string;
  readonly ttlSeconds: number;
  /** Deadline of each etcd call (default 2 s). */
  readonly callMs?: number;
  /** Pause between looks at the candidates ahead of this one (default 200 ms). */
  readonly pollMs?: number;
  /** When this node may stand (default: always); see "Standing aside" above. */
  readonly gate?: CandidacyGate;
}

/** Whether this node may stand for sequencer now (node-integrity: not while its copy is damaged). */
export interface CandidacyGate {
  mayStand(): boolean;
  /** Called on every change (and more often is fine); returns the way to stop listening. */
  onChange(listener: () => void): () => void;
}

export interface Candidacy {
  /** This candidate's key (once its lease is granted). */
  key(): Promise<string>;
  /** Emitted once, when this candidate leads. */
  on(event: "elected", listener: () => void): this;
  /**
   * Emitted once, when the candidacy ended without a resign (its lease may have expired, etcd refused),
   * or stood aside because its gate closed (`CLUSTER_QUARANTINED`).
   */
  on(event: "error", listener: (error: Error) => void): this;
  /** Whether the candidacy ended (resigned or failed). */
  ended(): boolean;
  /** Ends the candidacy and revokes its lease (bounded; the lease expires anyway, nothing renews it). */
  resign(): Promise<void>;
}

function asideError(): ClusterError {
  return new ClusterError("CLUSTER_QUARANTINED", "点検のため順序付け役の選出を降りました", {
    election: "stood-aside",
  });
}

function lostError(cause?: unknown): ClusterError {
  return new ClusterError(
    "CLUSTER_UNAVAILABLE",
    "順序付け役の選出のリースを保てませんでした",
    { election: "lost" },
    cause === undefined ? {} : { cause },
  );
}

class ElectionCandidacy extends EventEmitter implements Candidacy {
  readonly #client: Etcd3;
  readonly #o: Required<Omit<CandidacyOptions, "gate">>;
  readonly #gate: CandidacyGate | undefined;
  /** The candidacy's lease (own-lease.ts: renewed only by its own loop, never after it ended). */
  readonly #lease: Promise<OwnLease>;
  readonly #keyPromise: Promise<string>;
  #ended = false;
  /** Resolves when the candidacy ends (wakes the loops). */
  #endSignal!: () => void;
  readonly #endedPromise: Promise<void>;

  constructor(client: Etcd3, o: CandidacyOptions) {
    super();
    this.#client = client;
    const { gate, ...rest } = o;
    this.#o = { callMs: 2000, pollMs: 200, ...rest };
    this.#gate = gate;
    this.#endedPromise = new Promise((resolve) => {
      this.#endSignal = resolve;
    });
    this.#lease = grantOwnLease(client, {
      ttlSeconds: this.#o.ttlSeconds,
      callMs: this.#o.callMs,
      onLost: (error) => {
        this.#fail(lostError(error));
      },
    });
    this.#keyPromise = this.#lease.then((l) => this.#o.prefix + l.id);
    this.#keyPromise.catch(() => undefined);
    void this.#run();
  }

  key(): Promise<string> {
    return this.#keyPromise;
  }

  ended(): boolean {
    return this.#ended;
  }

  async resign(): Promise<void> {
    this.#end();
    await this.#release();
  }

  #deadline(): { deadline: Date } {
    return { deadline: new Date(Date.now() + this.#o.callMs) };
  }

  #end(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#endSignal();
    return true;
  }

  #fail(error: unknown): void {
    if (!this.#end()) return;
    // Tried once: if etcd has no majority now the lease expires by itself once it has (nobody renews it).
    void this.#release();
    this.emit("error", error instanceof Error ? error : lostError(error));
  }

  /** Waits (looking every pollMs) until the gate is open or the candidacy ended. */
  async #untilMayStand(): Promise<void> {
    const gate = this.#gate;
    while (gate !== undefined && !this.#ended && !gate.mayStand()) {
      await Promise.race([sleep(this.#o.pollMs), this.#endedPromise]);
    }
  }

  /** From now until the candidacy ends: a gate that closes ends it (see "Standing aside"). */
  #standAsideWhenClosed(): void {
    const gate = this.#gate;
    if (gate === undefined) return;
    const look = (): void => {
      if (!gate.mayStand()) this.#fail(asideError());
    };
    const stop = gate.onChange(look);
    void this.#endedPromise.then(stop);
    look();
  }

  /** Ends the lease's renewals and revokes it (a lease granted after the candidacy ended, too). */
  async #release(): Promise<void> {
    const lease = await this.#lease.catch(() => undefined);
    await lease?.release();
  }

  async #run(): Promise<void> {
    let id: string;
    try {
      id = (await this.#lease).id;
    } catch (error) {
      this.#fail(error);
      return;
    }
    await this.#untilMayStand();
    if (this.#ended) {
      await this.#release();
      return;
    }
    this.#standAsideWhenClosed();
    if (this.ended()) return;
    const c = this.#client;
    const key = this.#o.prefix + id;
    try {
      const put = await c
        .if(key, "Create", "==", 0)
        .then(c.put(key).value(this.#o.value).lease(id))
        .else(c.get(key))
        .options(this.#deadline())
        .commit();
      const created = put.succeeded
        ? BigInt(put.header.revision)
        : BigInt(put.responses[0]?.response_range.kvs[0]?.create_revision ?? put.header.revision);
      // Leads once no candidate's key is older than this one's.
      while (!this.ended()) {
        const ahead = await c
          .getAll()
          .prefix(this.#o.prefix)
          .maxCreateRevision((created - 1n).toString())
          .sort("Create", "Descend")
          .limit(1)
          .options(this.#deadline())
          .keys()
          .catch(() => undefined);
        if (this.ended()) return;
        if (ahead !== undefined && ahead.length === 0) {
          this.emit("elected");
          return;
        }
        await Promise.race([sleep(this.#o.pollMs), this.#endedPromise]);
      }
    } catch (error) {
      this.#fail(error);
    }
  }
}

/** Stands for election under `prefix` (see the file comment); listen for "elected" and "error". */
export function standForElection(client: Etcd3, o: CandidacyOptions): Candidacy {
  return new ElectionCandidacy(client, o);
}
