/**
 * What an integrity check found wrong in a node's own copy. Findings carry positions and content
 * addresses only — entry indices, transfer IDs, chunk addresses, error codes — never personal data or
 * file contents, so they can go into /health, monitoring and the repair entry as they are.
 */

/** Which part of the node's copy a finding is about. */
export type FindingKind =
  /** Entry bytes, their order, or the hash chain (ledger.db `entries`). */
  | "entry"
  /** Stored leaf or interior node hashes that differ from the ones recomputed from the entries. */
  | "tree"
  /** A stored checkpoint that does not verify or does not match the entries. */
  | "checkpoint"
  /** The node's root at the published size differs from the quorum-cosigned root. */
  | "published-root"
  /** `entry_keys` rows that are not exactly the keys derived from the entries. */
  | "index-keys"
  /** A conversion entry's stored record hashes that no longer match its commitment. */
  | "record-hashes"
  /** A service.db transfer row that differs from what its entries commit to. */
  | "transfer-row"
  /** A service.db `transfer_damage` row that differs from the alarm entry committing to it (damage-rows.ts). */
  | "damage-row"
  /** A payload chunk whose bytes no longer hash to its address. */
  | "chunk";

export interface Finding {
  readonly kind: FindingKind;
  /** The coded reason (a LedgerErrorCode from fsck, or CLUSTER_INTEGRITY_MISMATCH). */
  readonly code: string;
  /** First entry index that is bad or may be bad, when one is known. */
  readonly index?: number;
  readonly transfer?: string;
  /** Chunk address (SHA-256 of ciphertext). */
  readonly address?: string;
  /** Which column or key differs (names only, never values). */
  readonly field?: string;
}

/** A short, log-safe description of a finding (no values, only positions and codes). */
export function describeFinding(f: Finding): string {
  const where = [
    f.index !== undefined ? `#${f.index}` : undefined,
    f.transfer !== undefined ? `transfer ${f.transfer}` : undefined,
    f.address !== undefined ? `chunk ${f.address.slice(0, 16)}` : undefined,
    f.field !== undefined ? `field ${f.field}` : undefined,
  ].filter((x) => x !== undefined);
  return `${f.kind} ${f.code}${where.length > 0 ? ` (${where.join(", ")})` : ""}`;
}

/**
 * Whether a finding takes the whole node out (quarantine: no serving, no cosigning). A payload chunk does
 * not: it is content-addressed and re-hashed on every read, so its bad bytes are never served (a read
 * fails before a byte leaves, and the standard file's SHA-256 is checked again), nothing else of the copy
 * depends on it, and cosigning is about the ledger alone. Only its transfer is held while the chunk is
 * fetched from a peer (`repair.ts` `repairWhileServing`), and marked damaged when no copy has it.
 * Everything else (entries, tree, checkpoints, index and state rows) quarantines the node.
 */
export function quarantinesNode(f: Finding): boolean {
  return f.kind !== "chunk";
}
