/**
 * Verification of the first level of a record's two-level proof: the record hash is leaf `position` of
 * the tree whose root a conversion entry commits to (`records.root`). The second level is the ordinary
 * inclusion proof of that entry in the log.
 */
import { rfc6962Hasher } from "./hash.js";
import { verifyInclusion } from "./inclusion.js";

/** A record's proof within its file. */
export interface RecordProof {
  readonly recordHash: Uint8Array;
  readonly position: number;
  readonly count: number;
  readonly proof: readonly Uint8Array[];
  readonly recordsRoot: Uint8Array;
}

/**
 * Verifies that a record hash is committed to by a conversion entry's records root.
 * @throws LedgerError codes of {@link verifyInclusion}
 */
export function verifyRecordProof(p: RecordProof): void {
  verifyInclusion({
    index: p.position,
    size: p.count,
    leafHash: rfc6962Hasher.hashLeaf(p.recordHash),
    proof: p.proof,
    root: p.recordsRoot,
  });
}
