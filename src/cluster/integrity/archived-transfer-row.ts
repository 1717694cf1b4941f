/**
 * A deleted `transfers` row re-created from what this node applied (issue 11). The ledger entries commit
 * to the row's committed columns (`transfer-projection.ts`) but not to its times, its `delete_after` or
 * its `report_json`; those came from the state commands, which every node archives with the batch it
 * applied, in the same service.db transaction (`replicated-state.ts`, `cluster_batches`). Folding this
 * transfer's archived commands in log order gives the row exactly as this node's appliers wrote it
 * (`service/state-commands/transfer-commands.ts`: the kinds and arguments below are theirs; `cluster/`
 * cannot import `service/`, so they are named here). A batch the replica could not apply is not
 * archived, so the row is the applied one, not a peer's that is already past the next state change.
 *
 * The archive lies in the same file an attacker could edit: what it gives is only the uncommitted
 * columns' best value. The committed columns are written over it from the entries, and the re-check
 * compares the row with the entries again.
 */
import type Database from "better-sqlite3";
import type { TransferRowValues } from "../../store/transfer-rows.js";
import { isAppendBody } from "../state-command.js";

type Row = Record<string, string | number | null>;

function hasArchive(db: Database.Database): boolean {
  return (
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cluster_batches'").get() !==
    undefined
  );
}

const text = (v: unknown): string | null => (typeof v === "string" ? v : null);
const int = (v: unknown): number | null => (typeof v === "number" && Number.isSafeInteger(v) ? v : null);
const field = (v: unknown, key: string): unknown =>
  v !== null && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined;

/** Applies one archived command to the row being rebuilt, as its applier would have. */
function applyCommand(row: Row | undefined, kind: string, a: unknown): Row | undefined {
  const at = text(field(a, "at"));
  if (kind === "transfer.create") {
    return {
      id: text(field(a, "id")),
      sender_id: text(field(a, "senderId")),
      receiver_id: text(field(a, "receiverId")),
      status: "converted",
      mapping_id: text(field(a, "mappingId")),
      original_sha256: text(field(field(a, "original"), "sha256")),
      original_bytes: int(field(field(a, "original"), "bytes")),
      standard_sha256: text(field(field(a, "standard"), "sha256")),
      standard_bytes: int(field(field(a, "standard"), "bytes")),
      records: int(field(a, "records")),
      rows_rejected: int(field(a, "rowsRejected")),
      report_json: text(field(a, "reportJson")),
      created_at: at,
      sent_at: null,
      downloaded_at: null,
      received_at: null,
      deleted_at: null,
      delete_after: text(field(a, "deleteAfter")),
    };
  }
  if (row === undefined) return undefined;
  // Each applier moves only from the status it expects; a command that did not move the row leaves it.
  switch (kind) {
    case "transfer.send":
      return row["status"] === "converted" ? { ...row, status: "sent", sent_at: at } : row;
    case "transfer.discard":
      return row["status"] === "converted" ? { ...row, status: "discarded", deleted_at: at } : row;
    case "transfer.download":
      return row["status"] === "sent" ? { ...row, status: "downloaded", downloaded_at: at } : row;
    case "transfer.receipt":
      return row["status"] === "downloaded"
        ? { ...row, status: "received", received_at: at, delete_after: text(field(a, "deleteAfter")) }
        : row;
    case "transfer.expire":
      return row["status"] === text(field(a, "from")) ? { ...row, status: "deleted", deleted_at: at } : row;
    default:
      return row;
  }
}

/**
 * The row of transfer `id` as the commands this node archived (applied) wrote it; undefined when no
 * archived `transfer.create` names it (not a cluster node, or a transfer this node never applied).
 */
export function archivedTransferRow(db: Database.Database, id: string): TransferRowValues | undefined {
  if (!hasArchive(db)) return undefined;
  const batches = db
    .prepare<[string], { batch: string }>(
      "SELECT batch FROM cluster_batches WHERE instr(batch, ?) > 0 ORDER BY seq",
    )
    .iterate(id);
  let row: Row | undefined;
  for (const { batch } of batches) {
    let commands: unknown;
    try {
      commands = field(JSON.parse(batch) as unknown, "commands");
    } catch {
      continue;
    }
    if (!Array.isArray(commands)) continue;
    for (const c of commands as unknown[]) {
      const body = field(c, "body");
      if (!isAppendBody(body) || body.command === undefined) continue;
      if (field(body.command.args, "id") !== id) continue;
      row = applyCommand(row, body.command.kind, body.command.args);
    }
  }
  return row;
}
