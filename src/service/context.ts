/**
 * Everything a service operation needs, injected: databases, the ledger's write and read ports,
 * configuration, paths, CA material, clock and randomness. No module state; tests build one per data
 * directory. The service never holds the checkpoint signing key: the ledger behind the port signs.
 */
import type { CaMaterial } from "../crypto/pki/ca.js";
import type { LedgerPort } from "../ledger/embedded-ledger.js";
import type { DeviceSignatureRecord } from "../ledger/entry/operation-record.js";
import type { ServiceDb } from "../store/service-db.js";
import type { ServiceConfig } from "./config.js";
import type { ClusterHooks } from "./cluster/cluster-hooks.js";
import type { DataPaths } from "./data-dir.js";
import type { RefusalLimiter } from "./audit/refusal-log.js";
import type { StagedPayloads } from "./transfers/staged-payloads.js";
import type { TransferDamageView } from "./transfers/damage.js";

export interface ServiceContext {
  readonly db: ServiceDb;
  /**
   * The one write port the service appends through, and reads of the local replica (ledger-port.ts
   * picks it).
   */
  readonly ledger: LedgerPort;
  /** The log's verifier key (C2SP vkey), to check checkpoints with. */
  readonly verifierKey: string;
  readonly config: ServiceConfig;
  readonly paths: DataPaths;
  readonly ca: CaMaterial;
  readonly now: () => Date;
  readonly random: (n: number) => Uint8Array;
  /** Called after the CRL file was rewritten, so a running server reloads its TLS context at once. */
  readonly onCrlChanged?: (() => void) | undefined;
  /** Bounds the denial entries per address and ID (refusal-log.ts); absent: every refusal is written. */
  readonly refusals?: RefusalLimiter | undefined;
  /** Set only when the node runs in a cluster (cluster-hooks.ts). */
  readonly cluster?: ClusterHooks | undefined;
  /** Uploads' payloads held ready for their `transfer.create` commands (node.ts makes one per node). */
  readonly payloads: StagedPayloads;
  /** A cluster node's health: transfers no copy could repair (transfer-damage.ts); absent: none. */
  readonly damage?: TransferDamageView | undefined;
}

/** Who performs an operation, as the ledger records it. */
export interface Actor {
  readonly loginId: string;
  readonly institutionId: string;
  readonly role: "sender" | "receiver" | "admin" | "system";
  readonly ip?: string | undefined;
  /** SHA-256 fingerprint of the client certificate that carried the request. */
  readonly certificate?: string | undefined;
  /** Device key and signature of the request, when it was signed. */
  readonly device?: DeviceSignatureRecord | undefined;
  readonly requestId?: string | undefined;
}

/** The service itself acting (start-up, retention jobs, CLI run on the node). */
export function systemActor(loginId = "system"): Actor {
  return { loginId, institutionId: "-", role: "system" };
}
