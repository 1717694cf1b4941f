/**
 * Signing and cosigning of the checkpoints of this node's copy, for the checkpoint publication
 * (`checkpoint-publication.ts`, whose file comment tells the whole path). A checkpoint batch's ledger size
 * is only recorded as due on the apply path; the signature with the log key, the guarded check of the new
 * entries and the cosignature with this node's witness key run right after, in a task of their own, at
 * exactly that size (sizes due meanwhile coalesce into the largest), and the cosignature is offered
 * through etcd (`cosign-exchange.ts`) in order, in the background. A quorum that publishes is handed back
 * to the publication, which takes the note only when it verifies and this copy reproduces it.
 */
import type { Etcd3 } from "etcd3";
import type { NoteSigner } from "../crypto/note-signer.js";
import type { Ledger } from "../ledger/ledger.js";
import type { LogStorage } from "../ledger/log-storage.js";
import type { CosignerPolicy } from "../ledger/verify/published-checkpoint.js";
import type { VerifierKey } from "../ledger/verify/verifier-key.js";
import type { PublishedCheckpoint } from "../ledger/write-port.js";
import type { Cosigned, CosignInput } from "./checkpoint-cosigner.js";
import { offerCosignature, publishIfQuorum } from "./cosign-exchange.js";
import type { CosignerMemory } from "./cosigner-memory.js";
import { ClusterError } from "./errors.js";

/**
 * How a node cosigns: checks what it has not checked yet, then cosigns against the root it recomputed
 * (`integrity/cosign-guard.ts` `cosignAfterCheck`, or `NodeIntegrity.cosign`, which shares the node's
 * quarantine). `storedSize` is the size the note was signed at.
 * @throws ClusterError CLUSTER_QUARANTINED, CLUSTER_INTEGRITY_MISMATCH, CLUSTER_COSIGN_REFUSED
 */
export type GuardedCosign = (
  input: Omit<CosignInput, "ownSize" | "ownRootAt"> & { readonly storedSize: number },
) => Cosigned;

export interface CheckpointSigningOptions {
  readonly client: Etcd3;
  /** Key prefix of this cluster's log in etcd. */
  readonly prefix: string;
  readonly nodeName: string;
  readonly storage: LogStorage;
  readonly ledger: Ledger;
  readonly logKey: VerifierKey;
  readonly policy: CosignerPolicy;
  readonly memory: CosignerMemory;
  /** The log's signing key; absent on the offline node. */
  readonly logSigner?: NoteSigner;
  /** This node's witness key; absent on the offline node. */
  readonly cosigner?: NoteSigner;
  /** The guarded cosign every cosignature goes through. */
  readonly cosign: GuardedCosign;
  readonly offline: boolean;
  /** The latest published checkpoint this node's copy reproduces, if any (no cosignature up to it). */
  readonly published: () => PublishedCheckpoint | undefined;
  /** Hands over a note the quorum's cosignatures published (the publication checks and takes it). */
  readonly learn: (note: string) => void;
  readonly onError?: (error: unknown) => void;
}

export class CheckpointSigning {
  readonly #o: CheckpointSigningOptions;
  #cosigning: Promise<void> = Promise.resolve();
  /** The largest checkpoint batch's ledger size not signed yet (0: none). */
  #dueSize = 0;
  #signTask: NodeJS.Immediate | undefined;
  #signed: Promise<void> = Promise.resolve();
  #signedDone: (() => void) | undefined;
  #cosigned = 0;

  constructor(o: CheckpointSigningOptions) {
    this.#o = o;
  }

  /** Cosignatures this node made. */
  get cosigned(): number {
    return this.#cosigned;
  }

  /** Signs (and cosigns) `size` in a task of its own; sizes due meanwhile coalesce into the largest. */
  signLater(size: number): void {
    this.#dueSize = Math.max(this.#dueSize, size);
    if (this.#signTask !== undefined) return;
    this.#signed = new Promise<void>((resolve) => {
      this.#signedDone = resolve;
    });
    this.#signTask = setImmediate(() => {
      const due = this.#dueSize;
      this.#dueSize = 0;
      this.#signTask = undefined;
      try {
        this.#signAndCosign(due);
      } finally {
        this.#signedDone?.();
      }
    });
  }

  /** Waits for the signature being made and the cosignature being offered. */
  async settled(): Promise<void> {
    await this.#signed;
    await this.#cosigning;
  }

  /**
   * Signs this copy's checkpoint at `size` (a checkpoint batch's ledger size) and, on an online node,
   * cosigns and offers it (in order, in the background).
   */
  #signAndCosign(size: number): void {
    const o = this.#o;
    if (size === 0 || o.logSigner === undefined) return;
    // Already signed past that size (a restart re-applying old batches): that size is behind us.
    if ((o.storage.latestCheckpoint()?.size ?? 0) > size) return;
    let note: string;
    try {
      note = o.ledger.signCheckpoint(o.logSigner, size).note;
    } catch (error) {
      o.onError?.(error);
      return;
    }
    const cosigner = o.cosigner;
    if (cosigner === undefined || o.offline) return;
    const published = o.published();
    // Catching up past what is already published: those sizes need no more cosignatures.
    if (published !== undefined && size <= published.size) return;
    let line: string;
    try {
      const cosigned = o.cosign({
        note,
        logKey: o.logKey,
        cosigner,
        storedSize: size,
        last: o.memory.last(),
      });
      // Kept before it is offered: a node never cosigns two inconsistent heads, even across a crash.
      o.memory.remember(cosigned.state);
      line = cosigned.line;
    } catch (error) {
      o.onError?.(error);
      return;
    }
    this.#cosigned++;
    this.#cosigning = this.#cosigning.then(async () => {
      try {
        const offered = await offerCosignature(o.client, o.prefix, { node: o.nodeName, note, line });
        if (offered !== "offered") {
          o.onError?.(
            new ClusterError("CLUSTER_COSIGN_REFUSED", "他ノードと異なるチェックポイントです", { size }),
          );
          return;
        }
        const quorum = await publishIfQuorum(o.client, o.prefix, {
          size,
          logKey: o.logKey,
          policy: o.policy,
        });
        if (quorum !== undefined) o.learn(quorum.note);
      } catch (error) {
        o.onError?.(error);
      }
    });
  }
}
