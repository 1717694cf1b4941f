/**
 * The parts a node's cluster write port (`cluster-ledger.ts`) is made of, built from its options and
 * connected to each other: the replicated state over this node's files, the command ordering and the
 * hand-over on the command log, the checkpoint publication, and the replica that applies the log. The
 * port keeps what happens when (start, append, close, after a batch); which part gets which option and
 * which callback lives here.
 */
import type { Ledger } from "../ledger/ledger.js";
import type { LogStorage } from "../ledger/log-storage.js";
import { parseVerifierKey, type VerifierKey } from "../ledger/verify/verifier-key.js";
import { CHECKPOINT_INTERVAL_MS } from "../ledger/write-port.js";
import { logKeys, type CommandBatch, type LogKeys, type LogPosition } from "./command-log/command-batch.js";
import type { RunningSequencer } from "./command-log/sequencer.js";
import { createHandOver, type HandOver } from "./command-log/hand-over.js";
import { createGroupedSubmitter } from "./command-log/submit-command.js";
import { CheckpointPublication } from "./checkpoint-publication.js";
import type { GuardedCosign } from "./checkpoint-signing.js";
import type { ClusterLedgerOptions } from "./cluster-ledger-options.js";
import { CommandOrdering } from "./command-ordering.js";
import { CosignerMemory } from "./cosigner-memory.js";
import { cosignAfterCheck } from "./integrity/cosign-guard.js";
import { EntryWatch } from "./integrity/entry-watch.js";
import { NodeHealth } from "./integrity/node-health.js";
import { ClusterError } from "./errors.js";
import { CheckpointCadence } from "./ledger-sequencing.js";
import { ReplicaApply } from "./replica-apply.js";
import { ReplicatedState } from "./replicated-state.js";

/** What the parts call back into the port for. */
export interface ClusterLedgerHooks {
  /** The sequencer running on this node, if any (the hand-over's local path). */
  readonly sequencer: () => RunningSequencer | undefined;
  /** Applies a batch the replica read (the port's after-a-batch step). */
  readonly apply: (batch: CommandBatch, position: LogPosition) => void;
  /** The replica stopped (`failure`: the coded error it stopped on, `error`: what was thrown). */
  readonly replicaStopped: (failure: ClusterError, error: unknown) => void;
}

export interface ClusterLedgerParts {
  readonly keys: LogKeys;
  readonly state: ReplicatedState;
  readonly memory: CosignerMemory;
  readonly cadence: CheckpointCadence;
  readonly ordering: CommandOrdering;
  readonly handOver: HandOver;
  readonly publication: CheckpointPublication;
  readonly replica: ReplicaApply;
}

/** The guarded cosign over a watch of the port's own (see {@link ClusterLedgerOptions.cosign}). */
function ownGuardedCosign(storage: LogStorage): GuardedCosign {
  const watch = new EntryWatch({ storage });
  const health = new NodeHealth({ now: () => new Date() });
  return (input) => cosignAfterCheck({ ...input, watch, health });
}

/**
 * Builds the port's parts over `ledger` (the tree over `o.storage`, shared with the port's reads).
 * @throws ClusterError CLUSTER_OPTION_INVALID when neither a log signer nor a log verifier key is given
 */
export function assembleClusterLedger(
  o: ClusterLedgerOptions,
  ledger: Ledger,
  hooks: ClusterLedgerHooks,
): ClusterLedgerParts {
  const keys = logKeys(o.prefix);
  const state = new ReplicatedState({ storage: o.storage, db: o.db, applyCommand: o.applyCommand });
  const vkey = o.logSigner?.verifierKey ?? o.logVerifierKey;
  if (vkey === undefined) {
    throw new ClusterError("CLUSTER_OPTION_INVALID", "ログの検証鍵がありません", {});
  }
  const logKey: VerifierKey = parseVerifierKey(vkey);
  const offline = o.offline === true;
  const memory = new CosignerMemory(o.db);
  const intervalMs = o.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS;
  const cadence = new CheckpointCadence(intervalMs);
  const submitter = createGroupedSubmitter(o.client, keys, {
    maxDelayMs: 2,
    ...(o.maxTxnOps !== undefined ? { maxTxnOps: o.maxTxnOps } : {}),
  });
  const peers = o.catchUp && { peers: { endpoints: o.catchUp.peers, tls: o.catchUp.tls } };
  const onLog = { client: o.client, keys, nodeName: o.nodeName };
  const handOver = createHandOver({ ...onLog, local: hooks.sequencer, ...peers });
  const ordering = new CommandOrdering({
    ...onLog,
    submitter,
    handOver: (command) => handOver.handOver(command),
    ...(o.appendTimeoutMs !== undefined ? { appendTimeoutMs: o.appendTimeoutMs } : {}),
  });
  const publication = new CheckpointPublication({
    client: o.client,
    prefix: o.prefix,
    nodeName: o.nodeName,
    storage: o.storage,
    ledger,
    logKey,
    policy: o.policy,
    memory,
    cosign: o.cosign ?? ownGuardedCosign(o.storage),
    offline,
    submitter,
    pollMs: Math.min(1000, intervalMs),
    ...(o.logSigner !== undefined ? { logSigner: o.logSigner } : {}),
    ...(o.cosigner !== undefined ? { cosigner: o.cosigner } : {}),
    ...(o.onCheckpoint !== undefined ? { onCheckpoint: o.onCheckpoint } : {}),
    ...(o.onError !== undefined ? { onError: o.onError } : {}),
  });
  const replica = new ReplicaApply({
    client: o.client,
    keys,
    nodeName: o.nodeName,
    state,
    offline,
    apply: hooks.apply,
    ownRootAt: (size) => ledger.root(size),
    logKey,
    policy: o.policy,
    ...(o.catchUp !== undefined ? { catchUp: o.catchUp } : {}),
    onStopped: hooks.replicaStopped,
    ...(o.onError !== undefined ? { onError: o.onError } : {}),
  });
  return { keys, state, memory, cadence, ordering, handOver, publication, replica };
}
