/**
 * The cluster's commands, as they travel through the etcd command log: an append of one operation's
 * ledger records together with the service state change they record (a {@link StateCommand}: data, not a
 * closure, so every node can apply it to its own service.db), and a request for a checkpoint.
 *
 * `StateCommand` and the applier have the shape agreed with the write port (`ledger/write-port.ts`,
 * issue 9 phase 2): the applier registry lives in `service/state-commands/` and is deterministic (no
 * clock, no randomness, nothing outside service.db), which is what makes every node reach the same state
 * and the same outcome from the same log.
 */
import type { ServiceDb } from "../store/service-db.js";
import type {
  AppendRequest,
  ApplyCommand as PortApplyCommand,
  JsonValue,
  StateCommand,
} from "../ledger/write-port.js";

export type { JsonValue, StateCommand };

/** The port's applier bound to a node's service database (`ledger/write-port.ts` {@link PortApplyCommand}). */
export type ApplyCommand = PortApplyCommand<ServiceDb>;

export const LEDGER_APPEND = "ledger.append";
export const CHECKPOINT_REQUEST = "checkpoint.request";

/** The body of a command that appends one operation's records (and its state change). */
export interface AppendBody {
  readonly type: typeof LEDGER_APPEND;
  readonly requests: readonly AppendRequest[];
  readonly command?: StateCommand;
}

/** The body of a command that only asks the sequencer for a checkpoint soon. */
export interface CheckpointRequestBody {
  readonly type: typeof CHECKPOINT_REQUEST;
}

export function isAppendBody(body: unknown): body is AppendBody {
  const b = body as Partial<AppendBody> | null;
  if (b === null || typeof b !== "object" || b.type !== LEDGER_APPEND || !Array.isArray(b.requests)) {
    return false;
  }
  const c = b.command as Partial<StateCommand> | null | undefined;
  return (
    c === undefined || (c !== null && typeof c === "object" && typeof c.kind === "string" && "args" in c)
  );
}

export function isCheckpointRequest(body: unknown): body is CheckpointRequestBody {
  const b = body as Partial<CheckpointRequestBody> | null;
  return b !== null && typeof b === "object" && b.type === CHECKPOINT_REQUEST;
}
