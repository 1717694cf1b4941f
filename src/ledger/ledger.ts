/**
 * The log as the rest of the system uses it: append typed records, sign checkpoints, read entries and
 * build proofs. Storage and ordering are injected (`LogStorage`, `Sequencer`), so the same object serves
 * the single-node SQLite log and, later, a replica fed by etcd.
 */
import type { NoteSigner } from "../crypto/note-signer.js";
import { LedgerError } from "./errors.js";
import type { LogStorage, StoredCheckpoint } from "./log-storage.js";
import { nodeHasher } from "./node-hasher.js";
import { buildConsistencyProof, buildInclusionProof, treeRoot } from "./proof-builder.js";
import { LocalSequencer, type AppendRequest, type AppendResult, type Sequencer } from "./sequencer.js";
import { formatCheckpoint } from "./verify/checkpoint.js";
import { verifyConsistency } from "./verify/consistency.js";
import { bytesEqual, fromHex, toHex } from "./verify/encoding.js";
import type { TreeHasher } from "./verify/hash.js";
import { appendSignatureLine } from "./verify/signed-note.js";

/** JSON form of an inclusion proof (the `ledger proof` output). */
export interface InclusionProofJson {
  readonly index: number;
  readonly treeSize: number;
  readonly leafHash: string;
  readonly proof: string[];
  readonly root: string;
}

/** JSON form of a consistency proof (the `ledger consistency` output). */
export interface ConsistencyProofJson {
  readonly from: number;
  readonly to: number;
  readonly proof: string[];
}

/** Options of {@link Ledger}. */
export interface LedgerOptions {
  readonly storage: LogStorage;
  readonly hasher?: TreeHasher;
  readonly sequencer?: Sequencer;
}

/** A transparency log over injected storage. */
export class Ledger {
  readonly storage: LogStorage;
  readonly #hasher: TreeHasher;
  readonly #sequencer: Sequencer;

  constructor(options: LedgerOptions) {
    this.storage = options.storage;
    this.#hasher = options.hasher ?? nodeHasher;
    this.#sequencer = options.sequencer ?? new LocalSequencer(this.storage, this.#hasher);
  }

  /** Appends records as one durable batch; returns each entry's index and leaf hash. */
  append(requests: readonly AppendRequest[]): Promise<AppendResult[]> {
    return this.#sequencer.append(requests);
  }

  /** Root of the tree of `size` leaves (default: everything stored). */
  root(size = this.storage.size()): Uint8Array {
    this.#assertStored(size);
    return treeRoot(this.storage, this.#hasher, size);
  }

  /**
   * Signs a checkpoint for the current tree (or its first `atSize` leaves), unless it would be inconsistent with the last one this log
   * signed (tlog-checkpoint §Signatures: a log MUST NOT sign inconsistent checkpoints). The check and the
   * write happen in one exclusive transaction. Signing the same size again returns the stored checkpoint.
   * @throws LedgerError LEDGER_CHECKPOINT_INCONSISTENT, LEDGER_VERIFIER_KEY_INVALID (wrong key for this log)
   */
  signCheckpoint(signer: NoteSigner, atSize?: number): StoredCheckpoint {
    if (signer.verifierKey !== this.storage.verifierKey) {
      throw new LedgerError("LEDGER_VERIFIER_KEY_INVALID", "この台帳の署名鍵ではありません", {
        name: signer.name,
      });
    }
    const saved = this.storage.saveCheckpoint((latest) => {
      const size = atSize ?? this.storage.size();
      const root = this.root(size);
      if (latest !== null) this.#assertConsistent(latest, size, root);
      if (latest !== null && latest.size === size) return latest;
      const text = formatCheckpoint({ origin: this.storage.origin, size, root });
      const note = appendSignatureLine(`${text}\n`, signer.name, signer.keyId, signer.sign(text));
      return { size, root, note };
    });
    return saved as StoredCheckpoint;
  }

  /** The latest signed checkpoint. @throws LedgerError LEDGER_CHECKPOINT_MISSING */
  latestCheckpoint(): StoredCheckpoint {
    const cp = this.storage.latestCheckpoint();
    if (cp === null)
      throw new LedgerError("LEDGER_CHECKPOINT_MISSING", "署名済みチェックポイントがありません");
    return cp;
  }

  /** Exact canonical bytes of entry `index`. */
  entry(index: number): Uint8Array {
    return this.storage.entry(index).entry;
  }

  /** Index of the entry with this leaf hash. @throws LedgerError LEDGER_NOT_FOUND */
  indexOfLeafHash(leafHashHex: string): number {
    const found = this.storage.findByLeafHash(fromHex(leafHashHex, "leaf hash"));
    if (found[0] === undefined)
      throw new LedgerError("LEDGER_NOT_FOUND", "その葉ハッシュのエントリはありません");
    return found[0];
  }

  /**
   * Inclusion proof of entry `index` in the tree of `size` — by default the latest signed checkpoint's
   * size, so the proof verifies against the checkpoint a client fetches with it.
   */
  inclusionProof(index: number, size?: number): InclusionProofJson {
    const treeSize = size ?? this.latestCheckpoint().size;
    this.#assertStored(treeSize);
    const proof = buildInclusionProof(this.storage, this.#hasher, index, treeSize);
    return {
      index,
      treeSize,
      leafHash: toHex(this.storage.node(0, index)),
      proof: proof.map(toHex),
      root: toHex(this.root(treeSize)),
    };
  }

  /** Consistency proof between two sizes (default `to`: latest signed checkpoint). */
  consistencyProof(from: number, to?: number): ConsistencyProofJson {
    const toSize = to ?? this.latestCheckpoint().size;
    this.#assertStored(toSize);
    return {
      from,
      to: toSize,
      proof: buildConsistencyProof(this.storage, this.#hasher, from, toSize).map(toHex),
    };
  }

  close(): void {
    this.storage.close();
  }

  #assertStored(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.storage.size()) {
      throw new LedgerError("LEDGER_INDEX_OUT_OF_RANGE", "木の大きさが台帳の大きさを超えています", {
        size,
        stored: this.storage.size(),
      });
    }
  }

  #assertConsistent(latest: StoredCheckpoint, size: number, root: Uint8Array): void {
    const refuse = (cause?: unknown): LedgerError =>
      new LedgerError(
        "LEDGER_CHECKPOINT_INCONSISTENT",
        "前回署名したチェックポイントと矛盾するため署名しません",
        { signedSize: latest.size, size },
        { cause },
      );
    if (size < latest.size) throw refuse();
    if (size === latest.size) {
      if (!bytesEqual(root, latest.root)) throw refuse();
      return;
    }
    if (latest.size === 0) return;
    try {
      const proof = buildConsistencyProof(this.storage, this.#hasher, latest.size, size);
      verifyConsistency(
        { size1: latest.size, size2: size, root1: latest.root, root2: root, proof },
        this.#hasher,
      );
    } catch (cause) {
      throw refuse(cause);
    }
  }
}
