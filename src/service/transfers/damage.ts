/**
 * Damage no copy can repair (issue 11: the same payload chunk bad on every node and on the offline node):
 * the node's repair marks the transfer damaged (`cluster/integrity/node-health.ts` `markDamaged`) and
 * calls its `onUnrepairable` alarm. What the service does with that:
 *
 * - both parties see it: every transfer object in the API carries `damaged: true` (list and detail),
 *   and the web UI shows it in words;
 * - nothing is served: a download (and a send, which seals the stored file) is refused with the coded
 *   error `TRANSFER_DAMAGED` before any payload byte is read — and even without the mark the stored file
 *   is checked against its recorded SHA-256 before anything leaves (`transfers/checked-standard.ts`);
 * - the office is alarmed: an `alert` entry of kind `transfer-damaged` (transfer ID and the count of
 *   bad chunks only, never result data), shown on the monitoring view like the other alerts.
 *
 * The mark is durable and the same on every node: the alert entry carries the replicated command
 * `transfer.damage` (`state-commands/damage-commands.ts`), which every node applies to its own
 * service.db — so another node, or this one after a restart, knows it without finding the chunk again.
 * The node's health keeps the mark in memory too, from the moment its repair gave up (before the
 * command is applied), and the node's full check no longer quarantines it for a chunk of a transfer
 * marked damaged (`service/cluster/cluster-node.ts`).
 */
import { decodeEntry } from "../../ledger/entry/canonical-entry.js";
import { isCodedError } from "../../coded-error.js";
import type { ServiceDb } from "../../store/service-db.js";
import type { ServiceContext } from "../context.js";
import { audit } from "../audit/audit.js";
import { ServiceError } from "../errors.js";
import { ledgerTime } from "../signing/ledger-time.js";
import { isMarkedDamaged, transferDamage } from "../state-commands/damage-commands.js";

/** What the service needs of the node's health to know a damaged transfer (NodeHealth has it). */
export interface TransferDamageView {
  isDamaged(transfer: string): boolean;
  /** A chunk of the transfer is being repaired from a peer right now (the node serves everything else). */
  isRepairing?(transfer: string): boolean;
}

export const DAMAGED_MESSAGE =
  "このファイルは全ての複製で破損しており、復旧できません。送信元の健診機関に再送を依頼してください (事務局には通知済みです)";

export const REPAIRING_MESSAGE =
  "このファイルは破損が見つかったため他のノードの複製から修復中です。しばらくしてからもう一度お試しください";

/**
 * The refusal of anything that would read a damaged transfer's payload, or one whose chunk is being
 * repaired right now (503 TRANSFER_REPAIRING: ask again); undefined when neither.
 */
export function damagedError(ctx: ServiceContext, transfer: string): ServiceError | undefined {
  if (ctx.damage?.isDamaged(transfer) === true) {
    return new ServiceError("TRANSFER_DAMAGED", DAMAGED_MESSAGE, { transfer });
  }
  if (ctx.damage?.isRepairing?.(transfer) === true) {
    return new ServiceError("TRANSFER_REPAIRING", REPAIRING_MESSAGE, { transfer });
  }
  return undefined;
}

/**
 * A node's view of damaged transfers: the durable mark in service.db, or the node's own in-memory mark
 * (its repair gave up; the command may not be applied yet).
 */
export function damageView(db: ServiceDb, local?: TransferDamageView): TransferDamageView {
  return {
    isDamaged: (transfer) => local?.isDamaged(transfer) === true || isMarkedDamaged(db, transfer),
    isRepairing: (transfer) => local?.isRepairing?.(transfer) === true,
  };
}

/** Entries looked at for an earlier alarm about the same transfer (every node raises it once). */
const RECENT = 5000;

/**
 * The node's `onUnrepairable` callback: appends one `transfer-damaged` alert per transfer with the
 * `transfer.damage` command (a second bad chunk, or another node finding the same damage, is refused by
 * the command as known and raises nothing). A chunk whose transfer is unknown is alarmed under "-"
 * (once while the first alarm is among the newest entries).
 */
export function unrepairableAlarm(
  ctx: ServiceContext,
): (damage: { readonly transfer: string | undefined; readonly address: string }) => Promise<void> {
  return async (damage) => {
    const subject = damage.transfer ?? "-";
    if (damage.transfer !== undefined) {
      if (isMarkedDamaged(ctx.db, damage.transfer)) return;
    } else {
      const size = ctx.ledger.size();
      for (let i = size - 1; i >= 0 && i >= size - RECENT; i--) {
        const r = decodeEntry(ctx.ledger.entry(i));
        if (r.type === "alert" && r.kind === "transfer-damaged" && r.subject === subject) return;
      }
    }
    const time = ledgerTime(ctx);
    const command =
      damage.transfer === undefined
        ? undefined
        : transferDamage.of({ id: damage.transfer, address: damage.address, at: time });
    const records = [
      {
        time,
        actor: { id: "monitor", role: "system" },
        institution: "-",
        outcome: "serious-failure",
        outcomeDesc: `transfer-damaged: ${subject} chunk ${damage.address.slice(0, 64)} bad on every copy`,
        source: { observer: ctx.config.nodeName },
        type: "alert",
        kind: "transfer-damaged",
        count: 1,
        threshold: 0,
        windowMinutes: 0,
        subject,
      },
    ] as const;
    try {
      await audit(ctx, records, command !== undefined ? { command } : undefined);
    } catch (error) {
      // Another node's mark was applied first: its alarm is the one.
      if (isCodedError(error) && error.code === "TRANSFER_DAMAGE_KNOWN") return;
      throw error;
    }
  };
}
