/**
 * The cluster's KEK rotation as a state command (issue 11; `kenshin keys rotate-cluster`): appended with
 * its `key.rotate` admin entry, applied in log order by every node to its own keys through
 * `ApplyDeps.rotateKek` (cluster/kek-cluster-rotation.ts). It names key ids only — the new KEK itself
 * never enters the log; the operator puts it beside each online node's KEK before the command is ordered.
 */
import { ServiceError } from "../errors.js";
import { commandType } from "./command.js";

export const kekRotate = commandType<{ old: string; new: string }>("kek.rotate", (a, _results, db, deps) => {
  if (deps.rotateKek === undefined) {
    throw new ServiceError(
      "STATE_COMMAND_UNSUPPORTED",
      "この構成では鍵暗号化鍵をクラスタとして更新できません",
      {
        kind: "kek.rotate",
      },
    );
  }
  deps.rotateKek(db, { old: a.old, new: a.new });
});
