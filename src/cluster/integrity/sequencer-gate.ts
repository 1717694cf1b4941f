/**
 * When a node may stand for sequencer, by its integrity (issue 11): not while its own copy is found
 * damaged (quarantined) or being repaired. Such a node's state judges every batch it would order, and a
 * sequencer whose replica stopped at a copy the next batch did not fit (its last entry rows deleted)
 * prepares none — the whole cluster then waited for its repair, and the repair for a checkpoint and a
 * `repair` entry only a sequencer orders. So the candidacy stands aside at once
 * (command-log/sequencer-election.ts "Standing aside"), another node takes over, and this one stands
 * again once its check passes.
 *
 * A chunk finding alone does not quarantine the node (finding.ts `quarantinesNode`): it keeps standing.
 * Catching up does not close the gate either: every node catches up after a start, and the sequencer
 * waits for its own follower before it prepares anyway (ledger-sequencing.ts).
 */
import type { CandidacyGate } from "../command-log/sequencer-election.js";
import type { NodeHealth, NodeState } from "./node-health.js";

/** Whether a node in `state` may order the cluster's commands. */
export function mayOrder(state: NodeState): boolean {
  return state !== "quarantined" && state !== "repairing";
}

/** The sequencer candidacy's gate over the node's health. */
export function sequencerGate(health: NodeHealth): CandidacyGate {
  return {
    mayStand: () => mayOrder(health.state),
    onChange: (listener) =>
      health.onChange(() => {
        listener();
      }),
  };
}
