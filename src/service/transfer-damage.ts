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
 * The mark lives in the node's health (memory): after a restart the first full check finds the bad
 * chunk again and marks it again; until then the hash check above still refuses the download.
 */
import { decodeEntry } from "../ledger/entry/canonical-entry.js";
import type { ServiceContext } from "./context.js";
import { audit } from "./audit.js";
import { ServiceError } from "./errors.js";
import { ledgerTime } from "./ledger-time.js";

/** What the service needs of the node's health to know a damaged transfer (NodeHealth has it). */
export interface TransferDamageView {
  isDamaged(transfer: string): boolean;
}

export const DAMAGED_MESSAGE =
  "このファイルは全ての複製で破損しており、復旧できません。送信元の健診機関に再送を依頼してください (事務局には通知済みです)";

/** The refusal of anything that would read a damaged transfer's payload (undefined when not damaged). */
export function damagedError(ctx: ServiceContext, transfer: string): ServiceError | undefined {
  if (ctx.damage?.isDamaged(transfer) !== true) return undefined;
  return new ServiceError("TRANSFER_DAMAGED", DAMAGED_MESSAGE, { transfer });
}

/** Entries looked at for an earlier alarm about the same transfer (every node raises it once). */
const RECENT = 5000;

/**
 * The node's `onUnrepairable` callback: appends one `transfer-damaged` alert per transfer (a second bad
 * chunk, or another node finding the same damage, does not raise a second one while the first is among
 * the newest entries). A chunk whose transfer is unknown is alarmed under "-".
 */
export function unrepairableAlarm(
  ctx: ServiceContext,
): (damage: { readonly transfer: string | undefined; readonly address: string }) => Promise<void> {
  return async (damage) => {
    const subject = damage.transfer ?? "-";
    const size = ctx.ledger.size();
    for (let i = size - 1; i >= 0 && i >= size - RECENT; i--) {
      const r = decodeEntry(ctx.ledger.entry(i));
      if (r.type === "alert" && r.kind === "transfer-damaged" && r.subject === subject) return;
    }
    await audit(ctx, [
      {
        time: ledgerTime(ctx),
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
    ]);
  };
}
