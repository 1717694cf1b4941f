/**
 * The mark of a transfer whose payload no copy could repair (issue 11; transfer-damage.ts): appended with
 * its `transfer-damaged` alert entry, applied by every node to its own service.db (`transfer_damage`),
 * so every node — and the same node after a restart — refuses to serve it and shows it as damaged.
 * Refused (TRANSFER_DAMAGE_KNOWN) when the transfer is marked already: two nodes that find the same bad
 * chunk at once raise one alarm, not two.
 */
import type { ServiceDb } from "../../store/service-db.js";
import { ServiceError } from "../errors.js";
import { commandType } from "./command.js";

export const transferDamage = commandType<{ id: string; address: string; at: string }>(
  "transfer.damage",
  (a, results, db) => {
    const known = db.prepare("SELECT 1 FROM transfer_damage WHERE transfer_id = ?").get(a.id);
    if (known !== undefined) {
      throw new ServiceError("TRANSFER_DAMAGE_KNOWN", "この転送は既に破損として記録されています", {
        transfer: a.id,
      });
    }
    db.prepare(
      "INSERT INTO transfer_damage (transfer_id, address, marked_at, entry_index) VALUES (?, ?, ?, ?)",
    ).run(a.id, a.address, a.at, results[0]?.index ?? -1);
  },
);

/** True when `transferId` is marked damaged in this node's service.db. */
export function isMarkedDamaged(db: ServiceDb, transferId: string): boolean {
  return db.prepare("SELECT 1 FROM transfer_damage WHERE transfer_id = ?").get(transferId) !== undefined;
}
