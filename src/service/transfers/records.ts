/**
 * Transfer rows and how parties see them. Only the sender and the receiver of a transfer can see it
 * (the receiver once it was sent); anyone else — another institution or the office — gets exactly the
 * answer a missing transfer gets.
 */
import { cachedStatement } from "../../store/statement-cache.js";
import type { ServiceContext } from "../context.js";
import { ServiceError } from "../errors.js";
import type { Session } from "../identity/sessions.js";
import type { TransferStatus, TransferView } from "./view.js";

export interface TransferRow {
  id: string;
  sender_id: string;
  receiver_id: string;
  status: TransferStatus;
  mapping_id: string | null;
  original_sha256: string;
  original_bytes: number;
  standard_sha256: string | null;
  standard_bytes: number | null;
  records: number | null;
  rows_rejected: number | null;
  created_at: string;
  sent_at: string | null;
  downloaded_at: string | null;
  received_at: string | null;
  deleted_at: string | null;
  delete_after: string | null;
}

export const NOT_FOUND_MESSAGE = "転送が見つかりません";

export function notFound(): ServiceError {
  return new ServiceError("NOT_FOUND", NOT_FOUND_MESSAGE, {});
}

/**
 * The columns of a {@link TransferRow}: every column but report_json, which holds the conversion's
 * issues (megabytes for a large export) and is read only for the detail view ({@link transferReport}).
 */
export const TRANSFER_COLUMNS =
  "id, sender_id, receiver_id, status, mapping_id, original_sha256, original_bytes, standard_sha256, " +
  "standard_bytes, records, rows_rejected, created_at, sent_at, downloaded_at, received_at, deleted_at, delete_after";

export function transferRow(ctx: ServiceContext, id: string): TransferRow | undefined {
  return cachedStatement<[string], TransferRow>(
    ctx.db,
    `SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE id = ?`,
  ).get(id);
}

/** The stored conversion report (JSON text) of a transfer, or null. */
export function transferReport(ctx: ServiceContext, id: string): string | null {
  return (
    ctx.db
      .prepare<[string], { report_json: string | null }>("SELECT report_json FROM transfers WHERE id = ?")
      .get(id)?.report_json ?? null
  );
}

/** Whether this session's institution may see the transfer at all. */
export function canSee(session: Session, row: TransferRow): boolean {
  const inst = session.institution.id;
  if (row.sender_id === inst) return true;
  return row.receiver_id === inst && row.sent_at !== null;
}

/** The row if the session may see it; otherwise exactly the answer for a missing transfer. */
export function visibleTransfer(ctx: ServiceContext, session: Session, id: string): TransferRow {
  const row = /^tr_[a-z2-7]{16}$/.test(id) ? transferRow(ctx, id) : undefined;
  if (!row || !canSee(session, row)) throw notFound();
  return row;
}

/** An institution's name by id; a list passes one that remembers names for the length of the list. */
export type InstitutionNames = (id: string) => string;

/** Names read from service.db (a kept statement), each id once per returned function. */
export function institutionNames(ctx: ServiceContext): InstitutionNames {
  const statement = cachedStatement<[string], { name: string }>(
    ctx.db,
    "SELECT name FROM institutions WHERE id = ?",
  );
  const seen = new Map<string, string>();
  return (id) => {
    let name = seen.get(id);
    if (name === undefined) {
      name = statement.get(id)?.name ?? "";
      seen.set(id, name);
    }
    return name;
  };
}

export function toView(ctx: ServiceContext, row: TransferRow, names = institutionNames(ctx)): TransferView {
  const now = ctx.now().getTime();
  const deleteAfter = row.status === "deleted" || row.status === "discarded" ? null : row.delete_after;
  return {
    id: row.id,
    sender: { id: row.sender_id, name: names(row.sender_id) },
    receiver: { id: row.receiver_id, name: names(row.receiver_id) },
    status: row.status,
    original: { sha256: row.original_sha256, bytes: row.original_bytes },
    standard:
      row.standard_sha256 === null ? null : { sha256: row.standard_sha256, bytes: row.standard_bytes ?? 0 },
    records: row.records,
    rowsRejected: row.rows_rejected,
    createdAt: row.created_at,
    sentAt: row.sent_at,
    downloadedAt: row.downloaded_at,
    receivedAt: row.received_at,
    deletedAt: row.deleted_at,
    deleteAfter,
    deletionSoon:
      deleteAfter !== null && Date.parse(deleteAfter) - now <= ctx.config.retention.warnDays * 86_400_000,
    damaged: ctx.damage?.isDamaged(row.id) === true,
    // The node's in-memory hold (NodeHealth), the same source the download's refusal reads: no query.
    repairing: ctx.damage?.isRepairing?.(row.id) === true,
  };
}

export function addDays(iso: Date, days: number): string {
  return new Date(iso.getTime() + days * 86_400_000).toISOString();
}
