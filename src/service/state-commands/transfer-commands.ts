/**
 * Commands of a transfer's life (transfers/*.ts, retention.ts). Each status change starts from the status
 * it expects and is refused (TRANSFER_STATE) when a concurrent request moved the transfer first, so two
 * requests can never both move it — on one node or on every node of a cluster alike.
 */
import { deletePayload } from "../../store/payload-store.js";
import type { ServiceDb } from "../../store/service-db.js";
import { ServiceError } from "../errors.js";
import { commandType, jstMonth, type ReplicatedPayload } from "./command.js";

type Status = "converted" | "sent" | "downloaded" | "received" | "discarded" | "deleted";

/** Runs a status update from `from`; TRANSFER_STATE when the transfer is no longer there. */
function move(db: ServiceDb, id: string, from: Status, sql: string, ...values: (string | number)[]): void {
  const changed = db.prepare(sql).run(...values, id, from).changes;
  if (changed !== 1) {
    throw new ServiceError("TRANSFER_STATE", "この転送の状態は変わっています", { from });
  }
}

/**
 * An accepted upload: the transfer row (the payload's foreign key), then its encrypted standard CSV,
 * which this node holds ready (`deps.commitPayload`; on a cluster, named by `payload`).
 */
export const transferCreate = commandType<{
  id: string;
  senderId: string;
  receiverId: string;
  mappingId: string;
  original: { sha256: string; bytes: number };
  standard: { sha256: string; bytes: number };
  records: number;
  rowsRejected: number;
  reportJson: string;
  at: string;
  deleteAfter: string;
  payload?: ReplicatedPayload;
}>("transfer.create", (a, _results, db, deps) => {
  db.prepare(
    `INSERT INTO transfers (id, sender_id, receiver_id, status, mapping_id, original_sha256, original_bytes,
      standard_sha256, standard_bytes, records, rows_rejected, report_json, created_at, delete_after)
     VALUES (?, ?, ?, 'converted', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    a.id,
    a.senderId,
    a.receiverId,
    a.mappingId,
    a.original.sha256,
    a.original.bytes,
    a.standard.sha256,
    a.standard.bytes,
    a.records,
    a.rowsRejected,
    a.reportJson,
    a.at,
    a.deleteAfter,
  );
  deps.commitPayload(db, a.id, a.payload);
});

/** 送信確定: visible to the receiver; its records counted for the receiver's month (JST), for billing. */
export const transferSend = commandType<{ id: string; receiverId: string; records: number; at: string }>(
  "transfer.send",
  (a, _results, db) => {
    move(
      db,
      a.id,
      "converted",
      "UPDATE transfers SET status = 'sent', sent_at = ? WHERE id = ? AND status = ?",
      a.at,
    );
    db.prepare(
      "INSERT INTO record_counts (receiver_id, month, records) VALUES (?, ?, ?) ON CONFLICT (receiver_id, month) DO UPDATE SET records = records + excluded.records",
    ).run(a.receiverId, jstMonth(a.at), a.records);
  },
);

/** Discarded before sending: the payload and its data key are deleted in the same step. */
export const transferDiscard = commandType<{ id: string; at: string }>(
  "transfer.discard",
  (a, _r, db, deps) => {
    move(
      db,
      a.id,
      "converted",
      "UPDATE transfers SET status = 'discarded', deleted_at = ? WHERE id = ? AND status = ?",
      a.at,
    );
    deletePayload(db, a.id);
    deps.releasePayload?.(db, a.id);
  },
);

/** A download: the first one moves "sent" on; a later (or concurrent) one leaves the status alone. */
export const transferDownload = commandType<{ id: string; at: string }>("transfer.download", (a, _r, db) => {
  db.prepare(
    "UPDATE transfers SET status = 'downloaded', downloaded_at = ? WHERE id = ? AND status = 'sent'",
  ).run(a.at, a.id);
});

/** 受領確定: deletion after the grace period. */
export const transferReceipt = commandType<{ id: string; at: string; deleteAfter: string }>(
  "transfer.receipt",
  (a, _r, db) => {
    move(
      db,
      a.id,
      "downloaded",
      "UPDATE transfers SET status = 'received', received_at = ?, delete_after = ? WHERE id = ? AND status = ?",
      a.at,
      a.deleteAfter,
    );
  },
);

/** Retention: the payload physically deleted, the row kept as 'deleted' (from the status it was in). */
export const transferExpire = commandType<{ id: string; from: Status; at: string }>(
  "transfer.expire",
  (a, _r, db, deps) => {
    move(
      db,
      a.id,
      a.from,
      "UPDATE transfers SET status = 'deleted', deleted_at = ? WHERE id = ? AND status = ?",
      a.at,
    );
    deletePayload(db, a.id);
    deps.releasePayload?.(db, a.id);
  },
);
