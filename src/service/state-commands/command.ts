/**
 * State changes as data (issue 9 phase 2, agreed with the cluster in HELPER-NOTES): a service operation
 * hands the write port a {@link StateCommand} — a kind and JSON arguments — instead of a closure, and
 * every node applies it, in log order, to its own service.db. An applier is deterministic: no clock, no
 * randomness, nothing outside service.db (ids, times, password hashes and tokens are computed by the
 * caller and carried in the arguments), so every node reaches the same state and the same outcome. It
 * re-checks its preconditions and throws a coded error to refuse; then the call's entries are not
 * written either.
 */
import type { AppendResult, StateCommand } from "../../ledger/write-port.js";
import type { ServiceDb } from "../../store/service-db.js";

/**
 * How a replicated upload's command names its payload (a cluster node's upload; absent on a single
 * node): the content address of the payload's manifest (cluster/payload-manifest.ts) and how many
 * chunks it names. Every node stores the same rows from the same blobs; a node without the KEK (the
 * offline node) keeps ciphertext it cannot open.
 *
 * The KEK-wrapped data key travels in the manifest, not here: every node archives every command for
 * good (`cluster_batches`), so a key in a command could never be shredded. `kekId`/`wrappedKey` (base64)
 * are what commands of before that change carried; they are still applied as they were. A command
 * carries `kekId` alone (an id, not key material) since the cluster's KEK can be rotated: the upload is
 * refused on every node when it is ordered after a rotation away from that KEK.
 */
export interface ReplicatedPayload {
  readonly manifest: string;
  readonly chunks: number;
  readonly kekId?: string;
  readonly wrappedKey?: string;
}

/** What an applier may use besides the database: payloads that arrive beside the log (uploads). */
export interface ApplyDeps {
  /**
   * Stores the payload of `transferId` (the embedded node: the upload's spool, still in this process;
   * a cluster node: the replicated blobs `payload` names, from its chunk store — or, when it does not
   * hold them yet, a note to fetch them). Throws a coded error when it cannot.
   */
  readonly commitPayload: (db: ServiceDb, transferId: string, payload?: ReplicatedPayload) => void;
  /**
   * Called in the same transaction when a deletion (retention, 破棄) removed `transferId`'s payload
   * from service.db. A cluster node notes it so that its chunk store drops the replicated copy too
   * (`cluster/payload-chunk-release.ts`); the embedded node has nothing else to delete.
   */
  readonly releasePayload?: (db: ServiceDb, transferId: string) => void;
  /**
   * Applies the cluster's `kek.rotate` to this node's keys (cluster/kek-cluster-rotation.ts): an online
   * node re-wraps its `transfer_keys` under the new KEK the operator put beside its own, the offline
   * node notes them for re-wrapped copies from a peer. Absent on the embedded node (its KEK is rotated
   * by `kenshin keys rotate`).
   */
  readonly rotateKek?: (db: ServiceDb, args: { readonly old: string; readonly new: string }) => void;
}

/** One kind of command: its name, how to apply it, and a typed constructor for callers. */
export interface CommandType<A> {
  readonly kind: string;
  /** The command with these arguments (they must be JSON: strings, numbers, booleans, null, arrays). */
  of(args: A): StateCommand;
  apply(args: A, results: readonly AppendResult[], db: ServiceDb, deps: ApplyDeps): void;
}

/** Declares a command type. */
export function commandType<A>(
  kind: string,
  apply: (args: A, results: readonly AppendResult[], db: ServiceDb, deps: ApplyDeps) => void,
): CommandType<A> {
  return { kind, of: (args) => ({ kind, args: args as unknown as StateCommand["args"] }), apply };
}

/** The JST month (YYYY-MM) of an ISO time, which billing counts records by. */
export function jstMonth(iso: string): string {
  return new Date(Date.parse(iso) + 9 * 3_600_000).toISOString().slice(0, 7);
}
