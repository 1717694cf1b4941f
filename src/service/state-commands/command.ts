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

/** What an applier may use besides the database: payloads that arrive beside the log (uploads). */
export interface ApplyDeps {
  /**
   * Stores the payload of `transferId` that this node holds ready (the embedded node: the upload's
   * spool, still in this process; a cluster member: the chunks replicated to it). Throws a coded
   * error when it does not hold it.
   */
  readonly commitPayload: (db: ServiceDb, transferId: string) => void;
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
