/**
 * Checkpoint publication of the cluster's write port. After applying a batch the sequencer marked as a
 * checkpoint batch, every online node signs the checkpoint of its own copy with the log key (Ed25519 is
 * deterministic: equal copies give byte-equal notes), cosigns it with its own witness key only through
 * the integrity watch's guard (`integrity/cosign-guard.ts`: every entry not yet checked is re-hashed from
 * its stored bytes and checked, the root recomputed from those leaves — never read from the stored
 * interior nodes — and compared, `checkpoint-cosigner.ts`; a finding quarantines the node and it does
 * not cosign), and offers it through etcd (`cosign-exchange.ts`). It is *published* once the quorum of
 * online nodes cosigned it, so a tampered copy shows up as a missing cosignature.
 *
 * Signing and cosigning never run on a batch's apply path (which acknowledges appends and, on the
 * sequencer, forms the next batch): a checkpoint batch only records its ledger size as due, and the
 * signature, the guarded check of the new entries and the cosignature run right after, in a task of
 * their own (`checkpoint-signing.ts`), at exactly that size (every node signs the same sizes, so their
 * notes are byte-equal). When several checkpoint batches were applied before that task ran, only the
 * largest size is signed: the smaller ones need no separate checkpoint (a witness cosigns the largest
 * consistent head it observed).
 *
 * A node takes a published checkpoint (from its own offer's quorum, or read from etcd now and then) only
 * when it verifies under the pinned log key and cosigner policy and its own copy has that root at that
 * size; so `covering` and `latest` only ever answer with published checkpoints this node's copy
 * reproduces. A node waiting for one (`covering`) asks the sequencer for a checkpoint batch with a
 * checkpoint request. The offline node holds no log key: it stores the log-signed part of each published
 * checkpoint its copy reproduces, so its ledger.db passes fsck on its own.
 */
import { randomBytes } from "node:crypto";
import { LedgerError } from "../ledger/errors.js";
import { openPublishedCheckpoint } from "../ledger/verify/published-checkpoint.js";
import type { CheckpointPublished, PublishedCheckpoint } from "../ledger/write-port.js";
import type { RefusedCommand } from "./command-log/command-batch.js";
import type { GroupedSubmitter } from "./command-log/submit-command.js";
import { CheckpointSigning, type CheckpointSigningOptions } from "./checkpoint-signing.js";
import { ClusterError } from "./errors.js";
import { CHECKPOINT_REQUEST } from "./state-command.js";

/** How long `covering` waits for a published checkpoint before it gives up. */
const CHECKPOINT_WAIT_MS = 30_000;

/** How often `reaching` asks the sequencer again for a checkpoint covering a missing tail. */
const TAIL_REQUEST_MS = 1000;

interface CheckpointWaiter {
  readonly index: number;
  readonly resolve: (cp: PublishedCheckpoint) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: NodeJS.Timeout;
}

export type { GuardedCosign } from "./checkpoint-signing.js";

/** The signing options (keys, etcd, this copy) less the hooks the publication itself gives. */
export interface CheckpointPublicationOptions extends Omit<CheckpointSigningOptions, "published" | "learn"> {
  /** Where checkpoint requests are submitted (the command log). */
  readonly submitter: GroupedSubmitter;
  /** How often the published key is read when nobody waits. */
  readonly pollMs: number;
  readonly onCheckpoint?: CheckpointPublished;
}

export class CheckpointPublication {
  readonly #o: CheckpointPublicationOptions;
  #waiters: CheckpointWaiter[] = [];
  #published: PublishedCheckpoint | undefined;
  /** A published note this copy does not reach yet. */
  #ahead: PublishedCheckpoint | undefined;
  /** The largest published note within this copy's size that it does not reproduce (damage). */
  #unreproduced: PublishedCheckpoint | undefined;
  #checkpointRequest: string | undefined;
  /** When `reaching` last asked for a checkpoint covering a missing tail. */
  #tailRequestAt = 0;
  readonly #signing: CheckpointSigning;
  #poller: NodeJS.Timeout | undefined;
  #closed = false;
  #taken = 0;

  constructor(o: CheckpointPublicationOptions) {
    this.#o = o;
    this.#signing = new CheckpointSigning({
      ...o,
      published: () => this.#published,
      learn: (note) => {
        this.#learn(note, true);
      },
    });
    const kept = o.memory.published();
    if (kept !== undefined) this.#learn(kept, false);
  }

  /** Cosignatures this node made, published checkpoints it took. */
  get stats(): { cosigned: number; published: number } {
    return { cosigned: this.#signing.cosigned, published: this.#taken };
  }

  /** The latest published checkpoint this node's copy reproduces, if any. */
  get published(): PublishedCheckpoint | undefined {
    return this.#published;
  }

  /**
   * The newest published checkpoint (verified under the pinned policy) within this copy's size, whether
   * or not this copy reproduces it: what the integrity check and the repair prove the copy against. A
   * damaged copy reproduces no checkpoint published after the damage, so `published` stays behind it.
   */
  get newest(): PublishedCheckpoint | undefined {
    const a = this.#published;
    const b = this.#unreproduced;
    return b !== undefined && (a === undefined || b.size > a.size) ? b : a;
  }

  /** The newest published checkpoint (verified under the pinned policy) past this copy's size, if any. */
  get ahead(): PublishedCheckpoint | undefined {
    return this.#ahead;
  }

  /**
   * The newest published checkpoint, past this copy's size or not, when it reaches `size`: what proves
   * the missing tail of a copy whose last entry rows were deleted (the copy looks shorter than what it
   * applied, so no checkpoint within it covers them). When none reaches `size` yet, the sequencer is
   * asked for a checkpoint batch (again at most every TAIL_REQUEST_MS: this node's replica, stopped at
   * the short copy, never sees its request applied) and `newest` is the answer.
   */
  reaching(size: number): PublishedCheckpoint | undefined {
    const newest = this.newest;
    const ahead = this.#ahead;
    const best = ahead !== undefined && ahead.size > (newest?.size ?? 0) ? ahead : newest;
    if (best !== undefined && best.size >= size) return best;
    const now = Date.now();
    if (!this.#o.offline && !this.#closed && now - this.#tailRequestAt >= TAIL_REQUEST_MS) {
      this.#tailRequestAt = now;
      const id = randomBytes(16).toString("base64url");
      this.#o.submitter
        .submit({ id, origin: this.#o.nodeName, body: { type: CHECKPOINT_REQUEST } })
        .catch((error: unknown) => this.#o.onError?.(error));
    }
    return newest;
  }

  /** Whether someone on this node waits for a checkpoint. */
  get wanted(): boolean {
    return this.#waiters.length > 0;
  }

  /** Reads the published key now and then (often while someone waits for a checkpoint). */
  startPolling(): void {
    const poll = (): void => {
      this.#poller = setTimeout(
        () => {
          void this.#pollPublished().finally(() => {
            if (!this.#closed) poll();
          });
        },
        this.#waiters.length > 0 ? 50 : this.#o.pollMs,
      );
    };
    poll();
  }

  /**
   * A published checkpoint covering entry `index` (which this node's copy holds), waiting for one and
   * asking the sequencer for it when none does yet.
   */
  covering(index: number): Promise<PublishedCheckpoint> {
    const published = this.#published;
    if (published !== undefined && published.size > index) return Promise.resolve(published);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.timer !== timer);
        reject(
          new ClusterError("CLUSTER_WAIT_TIMEOUT", "公開チェックポイントを待てませんでした", {
            index,
            published: this.#published?.size ?? 0,
          }),
        );
      }, CHECKPOINT_WAIT_MS);
      this.#waiters.push({ index, resolve, reject, timer });
      this.#requestCheckpoint();
    });
  }

  /** @throws LedgerError LEDGER_CHECKPOINT_MISSING */
  latest(): PublishedCheckpoint {
    if (this.#published === undefined) {
      throw new LedgerError("LEDGER_CHECKPOINT_MISSING", "公開済みのチェックポイントがありません");
    }
    return this.#published;
  }

  /**
   * After this node applied a batch (`ids`: its commands, `refused`: those refused, `ledgerSize`: the
   * ledger's size after it): a checkpoint batch's size is signed and cosigned in a task of its own, right
   * after; a published checkpoint this copy now reaches is taken; waiters ask again.
   */
  afterApply(
    ids: readonly string[],
    refused: readonly RefusedCommand[],
    checkpoint: boolean,
    ledgerSize: number,
  ): void {
    const request = this.#checkpointRequest;
    if (request !== undefined && (ids.includes(request) || refused.some((r) => r.id === request))) {
      this.#checkpointRequest = undefined;
    }
    if (checkpoint) this.#signing.signLater(ledgerSize);
    if (this.#ahead !== undefined) this.#learn(this.#ahead.note, true);
    if (this.#waiters.length > 0 && this.#checkpointRequest === undefined) this.#requestCheckpoint();
  }

  /** Rejects every checkpoint waiter. */
  failAll(error: unknown): void {
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(error);
    }
  }

  /** Stops reading the published key (and asking for checkpoints). */
  stopPolling(): void {
    this.#closed = true;
    clearTimeout(this.#poller);
  }

  /** Stops polling and waits for the signature being made and the cosignature being offered. */
  async stop(): Promise<void> {
    this.stopPolling();
    await this.#signing.settled();
  }

  #requestCheckpoint(): void {
    const o = this.#o;
    if (this.#checkpointRequest !== undefined || this.#closed || o.offline) return;
    const signed = o.storage.latestCheckpoint()?.size ?? 0;
    if (this.#waiters.every((w) => w.index < signed)) return;
    const id = randomBytes(16).toString("base64url");
    this.#checkpointRequest = id;
    o.submitter.submit({ id, origin: o.nodeName, body: { type: CHECKPOINT_REQUEST } }).catch(() => {
      if (this.#checkpointRequest === id) this.#checkpointRequest = undefined;
    });
  }

  async #pollPublished(): Promise<void> {
    try {
      const note = await this.#o.client
        .get(`${this.#o.prefix}published`)
        .serializable(this.#o.offline)
        .options({ deadline: Date.now() + 2000 })
        .string();
      // The same note as last time needs no second verification (pure-JS Ed25519, every 50 ms while
      // someone waits); a note ahead of this copy is looked at again after each applied batch.
      if (note !== null && note !== this.#published?.note && note !== this.#ahead?.note)
        this.#learn(note, true);
    } catch {
      // etcd unreachable: the last published checkpoint this node knows stays its answer.
    }
  }

  /** Takes a published note when it verifies under the pinned policy and this copy reaches it. */
  #learn(note: string, keep: boolean): void {
    const o = this.#o;
    let size: number;
    let root: Uint8Array;
    try {
      ({ size, root } = openPublishedCheckpoint(note, o.logKey, o.policy).checkpoint);
    } catch (error) {
      o.onError?.(error);
      return;
    }
    if (this.#published !== undefined && size <= this.#published.size) return;
    const cp = { size, root, note };
    if (size > o.storage.size()) {
      this.#ahead = cp;
      return;
    }
    // Our own copy must have that root at that size: a published head we cannot reproduce is not ours.
    if (!Buffer.from(o.ledger.root(size)).equals(Buffer.from(root))) {
      if (this.#unreproduced === undefined || size > this.#unreproduced.size) this.#unreproduced = cp;
      o.onError?.(
        new ClusterError("CLUSTER_COSIGN_REFUSED", "公開チェックポイントがこのノードの台帳と一致しません", {
          size,
        }),
      );
      return;
    }
    this.#published = cp;
    if (this.#ahead !== undefined && this.#ahead.size <= size) this.#ahead = undefined;
    this.#taken++;
    if (o.logSigner === undefined) this.#keepLogSigned(cp);
    if (keep) {
      o.memory.rememberPublished(note);
      try {
        o.onCheckpoint?.(cp);
      } catch (error) {
        o.onError?.(error);
      }
    }
    const still: CheckpointWaiter[] = [];
    for (const w of this.#waiters) {
      if (w.index < size) {
        clearTimeout(w.timer);
        w.resolve(cp);
      } else still.push(w);
    }
    this.#waiters = still;
  }

  /** Without the log key: store the log-signed part of a published checkpoint this copy reproduces. */
  #keepLogSigned(cp: PublishedCheckpoint): void {
    const cut = cp.note.indexOf("\n\n") + 2;
    const own = cp.note
      .slice(cut)
      .split("\n")
      .filter((line) => line.startsWith(`\u2014 ${this.#o.logKey.name} `));
    const note = `${cp.note.slice(0, cut)}${own.join("\n")}\n`;
    try {
      this.#o.storage.saveCheckpoint((latest) =>
        latest !== null && latest.size >= cp.size ? null : { size: cp.size, root: cp.root, note },
      );
    } catch (error) {
      this.#o.onError?.(error);
    }
  }
}
