/**
 * The `transfer_damage` rows (a transfer whose payload no copy could repair: never served) against the
 * ledger entries that commit to them. The replicated `transfer.damage` command is appended only with its
 * `transfer-damaged` alert entry (`service/transfers/damage.ts`), and refused for a transfer marked
 * already, so each row is committed by exactly one entry: the first such alert naming the transfer
 * (`subject`) — its index is the row's `entry_index`, its `time` the row's `marked_at`, and the chunk
 * address the alert names (`outcomeDesc`: "… chunk <64 hex> bad on every copy") the row's `address`.
 *
 * A deleted row would let a node serve (or try to) what every copy lost; an edited or inserted one
 * refuses a good transfer to both parties. Both are findings of kind `damage-row`, like an edited
 * transfer row, and the repair puts back exactly what the entries commit to (a peer's row only when it
 * says that, else written from the entry; a row no entry commits to is removed). Pure over the rows
 * given; the SQL is the few statements below.
 */
import type Database from "better-sqlite3";
import type { OperationRecord } from "../../ledger/entry/operation-record.js";
import type { Finding } from "./finding.js";

/** A `transfer_damage` row, with the table's column names. */
export interface DamageRow {
  readonly transfer_id: string;
  readonly address: string;
  readonly marked_at: string;
  readonly entry_index: number;
}

export const DAMAGE_COLUMNS = ["transfer_id", "address", "marked_at", "entry_index"] as const;

const ADDRESS = /\bchunk ([0-9a-f]{64})\b/;

/** Folds entries, in log order with their indices, into the damage rows they commit to. */
export class DamageProjection {
  readonly #rows = new Map<string, DamageRow>();

  apply(record: OperationRecord, index: number): void {
    if (record.type !== "alert" || record.kind !== "transfer-damaged") return;
    const id = record.subject;
    // "-": a chunk no transfer owns (no command, no row); a second alarm cannot have carried a command.
    if (id === undefined || id === "-" || this.#rows.has(id)) return;
    const address = ADDRESS.exec(record.outcomeDesc ?? "")?.[1] ?? "";
    this.#rows.set(id, { transfer_id: id, address, marked_at: record.time, entry_index: index });
  }

  get(id: string): DamageRow | undefined {
    return this.#rows.get(id);
  }

  ids(): IterableIterator<string> {
    return this.#rows.keys();
  }

  get size(): number {
    return this.#rows.size;
  }
}

/** The columns of `row` that differ from what the entries commit to (names only). */
export function differingDamageColumns(
  row: { readonly [K in keyof DamageRow]?: unknown },
  expected: DamageRow,
): string[] {
  return DAMAGE_COLUMNS.filter((c) => row[c] !== expected[c]);
}

function hasTable(db: Database.Database): boolean {
  return (
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'transfer_damage'").get() !==
    undefined
  );
}

function readRows(db: Database.Database): DamageRow[] {
  return db
    .prepare<[], DamageRow>("SELECT transfer_id, address, marked_at, entry_index FROM transfer_damage")
    .all();
}

/** One node's `transfer_damage` row (the peer route answers it). */
export function readDamageRow(db: Database.Database, id: string): DamageRow | undefined {
  if (!hasTable(db)) return undefined;
  return db
    .prepare<[string], DamageRow>(
      "SELECT transfer_id, address, marked_at, entry_index FROM transfer_damage WHERE transfer_id = ?",
    )
    .get(id);
}

/**
 * Ledger entries this node's service.db has applied (`cluster_position.ledger_size`): a node commits a
 * batch's entries to ledger.db first, then its commands to service.db, so an entry past this size has
 * no row yet — that is no damage. Without the table (not a cluster node) every entry is applied.
 */
function appliedSize(db: Database.Database): number {
  const has =
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cluster_position'").get() !==
    undefined;
  if (!has) return Number.POSITIVE_INFINITY;
  const row = db
    .prepare<[], { ledger_size: number }>("SELECT ledger_size FROM cluster_position WHERE id = 1")
    .get();
  return row?.ledger_size ?? 0;
}

/**
 * Every row against the projection of `size` scanned entries, with the rows and the applied size read
 * in one service.db read transaction: a row no entry commits to (field `entries`), a committed row
 * missing (`row`), a column that differs (its name). What the node is still applying is no finding: a
 * row whose entry lies past the scanned entries but inside the applied size (the node kept applying
 * while the entries were scanned), an entry past the applied size (its command is not applied yet).
 */
export function checkDamageRows(
  db: Database.Database,
  projection: DamageProjection,
  size: number,
): Finding[] {
  if (!hasTable(db)) return [];
  const { rows, applied } = db.transaction(() => ({ rows: readRows(db), applied: appliedSize(db) }))();
  const findings: Finding[] = [];
  const seen = new Set<string>();
  const finding = (transfer: string, field: string): Finding => ({
    kind: "damage-row",
    code: "CLUSTER_INTEGRITY_MISMATCH",
    transfer,
    field,
  });
  for (const row of rows) {
    seen.add(row.transfer_id);
    const expected = projection.get(row.transfer_id);
    if (expected === undefined) {
      const appliedSince = row.entry_index >= size && row.entry_index < applied;
      if (!appliedSince) findings.push(finding(row.transfer_id, "entries"));
      continue;
    }
    for (const field of differingDamageColumns(row, expected)) findings.push(finding(row.transfer_id, field));
  }
  for (const id of projection.ids()) {
    const expected = projection.get(id);
    if (seen.has(id) || expected === undefined || expected.entry_index >= applied) continue;
    findings.push(finding(id, "row"));
  }
  return findings;
}

/**
 * Puts back the row of `id` the entries commit to: `peerRow` when it says exactly that, else the row
 * written from the entry; a row no entry commits to is deleted.
 * @returns where the row came from: "peer", "entries" (written from the entry), "removed"
 */
export function replaceDamageRow(
  db: Database.Database,
  id: string,
  expected: DamageRow | undefined,
  peerRow: { readonly [K in keyof DamageRow]?: unknown } | undefined,
): "peer" | "entries" | "removed" {
  if (expected === undefined) {
    db.prepare("DELETE FROM transfer_damage WHERE transfer_id = ?").run(id);
    return "removed";
  }
  const fromPeer = peerRow !== undefined && differingDamageColumns(peerRow, expected).length === 0;
  db.prepare(
    "INSERT OR REPLACE INTO transfer_damage (transfer_id, address, marked_at, entry_index) VALUES (?, ?, ?, ?)",
  ).run(expected.transfer_id, expected.address, expected.marked_at, expected.entry_index);
  return fromPeer ? "peer" : "entries";
}
