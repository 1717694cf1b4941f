/**
 * The hook the cosigner calls instead of `cosignCheckpoint` directly: a quarantined node never cosigns;
 * otherwise every entry not yet checked is re-hashed and checked first (`entry-watch.ts`) and the
 * checkpoint is compared with the root the watch recomputed from those bytes. A finding quarantines the
 * node at once (before any signature leaves it), so a tampered copy shows up as a missing cosignature,
 * and the node stops serving users until it is repaired.
 */
import { cosignCheckpoint, type CosignInput, type Cosigned } from "../checkpoint-cosigner.js";
import { ClusterError } from "../errors.js";
import type { EntryWatch } from "./entry-watch.js";
import type { NodeHealth } from "./node-health.js";

export interface GuardedCosignInput extends Omit<CosignInput, "ownSize" | "ownRootAt"> {
  readonly watch: EntryWatch;
  readonly health: NodeHealth;
  /** Size of the node's own copy now. */
  readonly storedSize: number;
}

/**
 * Checks the new entries, then cosigns through the watch's recomputed roots.
 * @throws ClusterError CLUSTER_QUARANTINED (not serving), CLUSTER_INTEGRITY_MISMATCH (a new entry failed
 *   its check: the node is now quarantined), CLUSTER_COSIGN_REFUSED (from cosignCheckpoint)
 */
export function cosignAfterCheck(input: GuardedCosignInput): Cosigned {
  input.health.assertServing();
  const findings = input.watch.advance(input.storedSize);
  if (findings.length > 0) {
    input.health.quarantine(findings);
    throw new ClusterError("CLUSTER_INTEGRITY_MISMATCH", "自ノードの台帳の検証に失敗したため連署しません", {
      findings: findings.length,
      firstIndex: findings[0]?.index,
    });
  }
  const watch = input.watch;
  return cosignCheckpoint({
    note: input.note,
    logKey: input.logKey,
    cosigner: input.cosigner,
    last: input.last,
    ownSize: watch.verifiedSize,
    ownRootAt: (size) => watch.rootAt(size),
  });
}
