/**
 * Real keys and real signatures for cosigning tests: a log key, three online-node witness keys, a tree
 * over real leaf hashes, and helpers that sign checkpoints exactly as the nodes do (node:crypto Ed25519).
 */
import { generateNoteKey, type NoteKey } from "../../src/crypto/note-key.js";
import { createCosigner, createNoteSigner, type NoteSigner } from "../../src/crypto/note-signer.js";
import { MemoryTree } from "../../src/ledger/memory-tree.js";
import { formatCheckpoint } from "../../src/ledger/verify/checkpoint.js";
import { utf8 } from "../../src/ledger/verify/encoding.js";
import { rfc6962Hasher } from "../../src/ledger/verify/hash.js";
import { appendSignatureLine } from "../../src/ledger/verify/signed-note.js";
import { parseVerifierKey, type VerifierKey } from "../../src/ledger/verify/verifier-key.js";

export const ORIGIN = "kenshin.example/test-log";

export interface CosigningFixture {
  readonly logSigner: NoteSigner;
  readonly logKey: VerifierKey;
  readonly nodeKeys: readonly NoteKey[];
  /** Cosigners of node1..node3 with a clock the test sets. */
  cosigner(i: number, nowMs?: number): NoteSigner;
  /** Pinned verifier keys (type 0x04) of the three nodes. */
  readonly cosignerKeys: readonly VerifierKey[];
  /** A tree over `n` leaves "entry-0".."entry-(n-1)". */
  tree(n: number, tamperAt?: number): MemoryTree;
  /** The log-signed checkpoint note of a tree. */
  logSigned(tree: MemoryTree, size?: number): string;
}

export function cosigningFixture(): CosigningFixture {
  const logNoteKey = generateNoteKey(ORIGIN);
  const logSigner = createNoteSigner(logNoteKey);
  const nodeKeys = [1, 2, 3].map((i) => generateNoteKey(`kenshin.example/node${i}`));
  const cosigner = (i: number, nowMs = Date.now()): NoteSigner => {
    const key = nodeKeys[i];
    if (key === undefined) throw new Error(`no node ${i}`);
    return createCosigner(key, () => nowMs);
  };
  return {
    logSigner,
    logKey: parseVerifierKey(logSigner.verifierKey),
    nodeKeys,
    cosigner,
    cosignerKeys: nodeKeys.map((_, i) => parseVerifierKey(cosigner(i).verifierKey)),
    tree(n, tamperAt) {
      return new MemoryTree(
        Array.from({ length: n }, (_, i) =>
          rfc6962Hasher.hashLeaf(utf8(i === tamperAt ? `entry-${i}-tampered` : `entry-${i}`)),
        ),
      );
    },
    logSigned(tree, size = tree.size) {
      const text = formatCheckpoint({ origin: ORIGIN, size, root: rootAt(tree, size) });
      return appendSignatureLine(`${text}\n`, logSigner.name, logSigner.keyId, logSigner.sign(text));
    },
  };
}

/** Root of a tree's first `size` leaves (a prefix tree), as a node computes it from its own copy. */
export function rootAt(tree: MemoryTree, size: number): Uint8Array {
  const leaves = Array.from({ length: size }, (_, i) => tree.node(0, i));
  return new MemoryTree(leaves).root();
}

/** Appends one cosignature line from `signer` over the note's text. */
export function cosign(note: string, signer: NoteSigner): string {
  const text = note.slice(0, note.lastIndexOf("\n\n") + 1);
  return appendSignatureLine(note, signer.name, signer.keyId, signer.sign(text));
}
