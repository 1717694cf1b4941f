/**
 * A node's witness: it cosigns (C2SP tlog-cosignature, https://c2sp.org/tlog-cosignature) a checkpoint
 * only after checking it against the root it recomputed from its *own* copy of the log, and never signs
 * two checkpoints that cannot both be true — the witness's statement is "this is the largest consistent
 * tree head I have observed" (tlog-cosignature §Ed25519 signed message). Because every node keeps an
 * independent copy, a tampered or forked copy shows up here as a refusal instead of a second signature.
 *
 * The caller supplies `ownRootAt`, the root over the node's own leaves at a given size, and keeps the
 * returned `state` durably before publishing the cosignature (a crash after publishing but before
 * keeping it could otherwise let the node cosign an inconsistent head later).
 */
import type { NoteSigner } from "../crypto/note-signer.js";
import { openCheckpoint, type Checkpoint } from "../ledger/verify/checkpoint.js";
import { toBase64 } from "../ledger/verify/encoding.js";
import { appendSignatureLine, parseSignedNote } from "../ledger/verify/signed-note.js";
import type { VerifierKey } from "../ledger/verify/verifier-key.js";
import { ClusterError } from "./errors.js";

/** The last checkpoint this node cosigned (what it must stay consistent with). */
export interface CosignerState {
  readonly size: number;
  readonly root: Uint8Array;
}

/** Why a node refused to cosign. */
export type CosignRefusal =
  /** The checkpoint is larger than this node's own copy: it cannot vouch for leaves it does not hold. */
  | "ahead-of-copy"
  /** The node's own root at that size differs: its copy or the checkpoint is wrong. */
  | "root-mismatch"
  /** Smaller than what it cosigned before: a witness never goes back. */
  | "rollback"
  /** Same size as before but another root, or its own copy no longer yields the root it cosigned. */
  | "history-mismatch";

export interface CosignInput {
  /** The log-signed checkpoint note (it may already carry other nodes' cosignatures). */
  readonly note: string;
  readonly logKey: VerifierKey;
  readonly cosigner: NoteSigner;
  /** Size of this node's own copy. */
  readonly ownSize: number;
  /** Root over this node's own leaves [0, size). */
  readonly ownRootAt: (size: number) => Uint8Array;
  /** What this node cosigned last, if anything. */
  readonly last: CosignerState | undefined;
}

export interface Cosigned {
  readonly checkpoint: Checkpoint;
  /** The note with this node's cosignature line appended. */
  readonly note: string;
  /** The signature line alone, to send to whoever assembles the published note. */
  readonly line: string;
  /** The new state to keep. */
  readonly state: CosignerState;
}

function refuse(reason: CosignRefusal, context: Record<string, unknown>): ClusterError {
  return new ClusterError("CLUSTER_COSIGN_REFUSED", "このチェックポイントには連署できません", {
    reason,
    ...context,
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Checks the checkpoint against the node's own copy and cosigns it.
 * @throws LedgerError when the log's signature does not verify; ClusterError CLUSTER_COSIGN_REFUSED with
 *   `reason` a {@link CosignRefusal}
 */
export function cosignCheckpoint(input: CosignInput): Cosigned {
  const { checkpoint } = openCheckpoint(input.note, input.logKey);
  const { size, root } = checkpoint;
  if (size > input.ownSize) throw refuse("ahead-of-copy", { size, ownSize: input.ownSize });
  if (!sameBytes(input.ownRootAt(size), root)) throw refuse("root-mismatch", { size });
  const last = input.last;
  if (last !== undefined) {
    if (size < last.size) throw refuse("rollback", { size, lastSize: last.size });
    // The checkpoint's root equals our own root at `size`; our own root at the last size must still be
    // what we cosigned then, which makes the two heads consistent through our own copy.
    if (
      size === last.size ? !sameBytes(root, last.root) : !sameBytes(input.ownRootAt(last.size), last.root)
    ) {
      throw refuse("history-mismatch", { size, lastSize: last.size, lastRoot: toBase64(last.root) });
    }
  }
  const parsed = parseSignedNote(input.note);
  const signature = input.cosigner.sign(parsed.text);
  const note = appendSignatureLine(input.note, input.cosigner.name, input.cosigner.keyId, signature);
  return {
    checkpoint,
    note,
    line: note.slice(input.note.length),
    state: { size, root },
  };
}

/**
 * Assembles one published note from the log-signed note and cosignature lines gathered from the nodes.
 * Only lines for the same note text can be combined; identical lines are kept once. The result is not
 * trusted by anyone because of this function: verifiers run openPublishedCheckpoint on it.
 * @throws ClusterError CLUSTER_OPTION_INVALID when a line is not a single signature line
 */
export function addCosignatureLines(note: string, lines: readonly string[]): string {
  const have = new Set(note.slice(note.lastIndexOf("\n\n") + 2).split("\n"));
  let out = note;
  for (const line of lines) {
    if (!line.startsWith("\u2014 ") || !line.endsWith("\n") || line.indexOf("\n") !== line.length - 1) {
      throw new ClusterError("CLUSTER_OPTION_INVALID", "連署の行が正しくありません", {});
    }
    const bare = line.slice(0, -1);
    if (have.has(bare)) continue;
    have.add(bare);
    out += line;
  }
  // The combined note must still parse (bounded signature count, well-formed lines).
  parseSignedNote(out);
  return out;
}
