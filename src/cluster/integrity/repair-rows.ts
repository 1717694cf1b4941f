/**
 * The state rows of a repair (`repair.ts` step 2): a `transfers` or `transfer_damage` row put back as the
 * node's proven entries commit it — the entries *this node's service.db applied*, not every entry its
 * ledger.db stores. A node commits a batch's entries to ledger.db before its commands to service.db, so
 * a batch whose state change failed on a damaged row (CLUSTER_APPLY_FAILED: a transfer's status edited,
 * the next `transfer.send` finds it not "converted") leaves entries past the applied size whose commands
 * have still to run. The check compares the rows with the entries below that size (`full-check.ts`
 * `stateSize`); a row put back as the later entries say would fail that re-check, and the batch the
 * replica applies again on restart would meet a row already moved and stop it once more. A peer's row is
 * therefore taken whole only when it says exactly what the applied entries commit to (a peer is usually
 * ahead: it applied that batch).
 */
import type Database from "better-sqlite3";
import type { LogStorage } from "../../ledger/log-storage.js";
import { decodeEntry } from "../../ledger/entry/canonical-entry.js";
import { readTransferRow, replaceTransferRow } from "../../store/transfer-rows.js";
import { archivedTransferRow } from "./archived-transfer-row.js";
import { DamageProjection, replaceDamageRow } from "./damage-rows.js";
import { appliedLedgerSize } from "./full-check.js";
import type { RepairDeps } from "./repair.js";
import { differingColumns, TransferProjection } from "./transfer-projection.js";

type RowDeps = Pick<RepairDeps, "node" | "peers" | "ledgerClient">;

/** What the (repaired, proven) entries below the size `db` applied commit the state rows to. */
export function projectRows(
  storage: LogStorage,
  db: Database.Database,
): { transfers: TransferProjection; damage: DamageProjection } {
  const applied = appliedLedgerSize(db) ?? Number.POSITIVE_INFINITY;
  const transfers = new TransferProjection();
  const damage = new DamageProjection();
  for (const stored of storage.scanEntries()) {
    if (stored.index >= applied) break;
    try {
      const record = decodeEntry(stored.entry);
      transfers.apply(record);
      damage.apply(record, stored.index);
    } catch {
      continue;
    }
  }
  return { transfers, damage };
}

/**
 * A `transfer_damage` row put back as its alarm entry commits it (damage-rows.ts): a peer's row when one
 * says exactly that, else written from the entry; a row no entry commits to is removed.
 * @returns the node the row came from (this node when written from the entries or removed)
 */
export async function repairDamageRow(
  deps: RowDeps,
  db: Database.Database,
  projection: DamageProjection,
  id: string,
): Promise<string> {
  const expected = projection.get(id);
  if (expected !== undefined) {
    for (const peer of deps.peers) {
      try {
        const row = await deps.ledgerClient.damageRow(peer, id);
        if (replaceDamageRow(db, id, expected, row) === "peer") return peer.name;
      } catch {
        continue;
      }
    }
  }
  replaceDamageRow(db, id, expected, undefined);
  return deps.node;
}

/**
 * A transfer row put back: a peer's row that says exactly what the entries commit to, else the local
 * row with its committed columns written from the entries. A deleted row with no such peer row (the
 * peers are past a state change this node has still to apply: its replica stopped on the missing row)
 * is re-created from this node's archived commands (`archived-transfer-row.ts`), its committed columns
 * again written from the entries.
 * @returns the node the row came from (this node when written from its own entries and commands)
 */
export async function repairTransferRow(
  deps: RowDeps,
  db: Database.Database,
  projection: TransferProjection,
  id: string,
): Promise<string | undefined> {
  const expected = projection.get(id);
  if (expected === undefined) return undefined;
  for (const peer of deps.peers) {
    try {
      const row = await deps.ledgerClient.transferRow(peer, id);
      if (row !== undefined && differingColumns(row, expected).length === 0) {
        replaceTransferRow(db, row);
        return peer.name;
      }
    } catch {
      continue;
    }
  }
  const local = readTransferRow(db, id) ?? archivedTransferRow(db, id);
  if (local === undefined) return undefined;
  replaceTransferRow(db, { ...local, ...expected });
  return deps.node;
}
