/**
 * What a node's cluster write port (`cluster-ledger.ts`) is made from: its etcd client and key prefix,
 * its own ledger.db and service.db, its keys, the pinned cosigner policy and the timings. Kept apart
 * from the port so the wiring (`cluster-ledger-parts.ts`) and the port read one definition.
 */
import type { Etcd3 } from "etcd3";
import type { NoteSigner } from "../crypto/note-signer.js";
import type { LogStorage } from "../ledger/log-storage.js";
import type { CosignerPolicy } from "../ledger/verify/published-checkpoint.js";
import type { CheckpointPublished } from "../ledger/write-port.js";
import type { ServiceDb } from "../store/service-db.js";
import type { CandidacyGate } from "./command-log/sequencer-election.js";
import type { GuardedCosign } from "./checkpoint-signing.js";
import type { PeerEndpoint } from "./peer/peer-client.js";
import type { PeerTls } from "./peer/peer-server.js";
import type { ApplyCommand } from "./state-command.js";

export interface ClusterLedgerOptions {
  readonly client: Etcd3;
  /** Key prefix of this cluster's log in etcd (e.g. "kenshin/"). */
  readonly prefix: string;
  readonly nodeName: string;
  /** This node's own ledger.db and service.db. */
  readonly storage: LogStorage;
  readonly db: ServiceDb;
  readonly applyCommand: ApplyCommand;
  /**
   * The log's signing key (the same on every online node: equal copies give byte-equal checkpoints).
   * The offline node holds none: it keeps the log-signed part of each published checkpoint its own copy
   * reproduces, so its ledger.db passes fsck on its own.
   */
  readonly logSigner?: NoteSigner;
  /** The log's verifier key (vkey); needed when there is no `logSigner`. */
  readonly logVerifierKey?: string;
  /** This node's witness key; absent on the offline node, which neither cosigns nor sequences. */
  readonly cosigner?: NoteSigner;
  /**
   * How this node cosigns: `NodeIntegrity.cosign` when the node runs its integrity watch (so a finding
   * quarantines the node for its server too). Without it, the port keeps a watch of its own: every
   * cosignature still re-hashes and checks each new entry and recomputes the root first, and a finding
   * stops this node's cosigning (reported through `onError`).
   */
  readonly cosign?: GuardedCosign;
  /** Pinned cosigners of the online nodes and how many must cosign a published checkpoint. */
  readonly policy: CosignerPolicy;
  /** The offline backup node: applies the log from its own etcd learner (serializable reads), no writes. */
  readonly offline?: boolean;
  readonly leaseTtlSeconds?: number;
  readonly sequencerGate?: CandidacyGate;
  readonly checkpointIntervalMs?: number;
  /** How long an append waits to be ordered before it is withdrawn. */
  readonly appendTimeoutMs?: number;
  readonly maxTxnOps?: number;
  /** Peers to catch up from when etcd's log was trimmed past this node (and this node's TLS identity). */
  readonly catchUp?: { readonly peers: readonly PeerEndpoint[]; readonly tls: PeerTls };
  /** Called once with each published checkpoint this node takes (e.g. to time-stamp it); must not throw. */
  readonly onCheckpoint?: CheckpointPublished;
  readonly onError?: (error: unknown) => void;
}
