/**
 * The applier registry: every {@link StateCommand} kind the service issues, and the one function the
 * write port is built with (`service/ledger-port.ts`) to apply them — on the embedded node inside its batch
 * transaction, on a cluster member when its replica applies the batch.
 */
import type { AppendResult, StateCommand } from "../../ledger/write-port.js";
import type { ServiceDb } from "../../store/service-db.js";
import { ServiceError } from "../errors.js";
import {
  accountCreate,
  institutionCreate,
  institutionDisable,
  institutionLink,
  passwordChange,
  passwordReset,
} from "./account-commands.js";
import type { ApplyDeps, CommandType } from "./command.js";
import {
  certificateIssue,
  certificateRevoke,
  deviceRegister,
  deviceRemove,
  deviceRename,
  mappingActivate,
  mappingAdd,
} from "./device-commands.js";
import { transferDamage } from "./damage-commands.js";
import { kekRotate } from "./key-commands.js";
import { accountLock, accountUnlock, sessionClose, sessionOpen } from "./session-commands.js";
import {
  transferCreate,
  transferDiscard,
  transferDownload,
  transferExpire,
  transferReceipt,
  transferSend,
} from "./transfer-commands.js";

const TYPES: readonly CommandType<never>[] = [
  sessionOpen,
  sessionClose,
  accountLock,
  accountUnlock,
  accountCreate,
  passwordReset,
  passwordChange,
  institutionCreate,
  institutionDisable,
  institutionLink,
  deviceRegister,
  deviceRename,
  deviceRemove,
  certificateIssue,
  certificateRevoke,
  mappingAdd,
  mappingActivate,
  transferCreate,
  transferSend,
  transferDiscard,
  transferDownload,
  transferReceipt,
  transferExpire,
  transferDamage,
  kekRotate,
] as readonly CommandType<never>[];

const BY_KIND = new Map(TYPES.map((t) => [t.kind, t]));

/** The kinds the registry knows (for tests and the cluster's checks). */
export const COMMAND_KINDS: readonly string[] = TYPES.map((t) => t.kind);

/**
 * The applier of a node: applies `command` to `db` given where its entries landed. Must run inside the
 * caller's transaction (or savepoint); throws a coded error to refuse — an unknown kind is refused too.
 */
export function commandApplier(
  deps: ApplyDeps,
): (command: StateCommand, results: readonly AppendResult[], db: ServiceDb) => void {
  return (command, results, db) => {
    const type = BY_KIND.get(command.kind);
    if (type === undefined) {
      throw new ServiceError("STATE_COMMAND_UNKNOWN", "不明な状態変更です", { kind: command.kind });
    }
    (type as CommandType<unknown>).apply(command.args, results, db, deps);
  };
}
