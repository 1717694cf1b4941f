/**
 * What a transfer's service.db row must say, derived from its ledger entries alone — the commitment
 * that makes an edit to a row as detectable as an edit to the ledger. The entries name the parties, the
 * files' SHA-256 and sizes, the records count, the mapping and every status change, so a row whose
 * status, receiver, sender, hashes or counts differ from this projection was changed outside the
 * service. Pure: the rolling check, the repair (which proves a peer's row against it) and tests use it.
 *
 * Not committed (a row may differ there without being caught): the times (`created_at`, `sent_at`, …,
 * `delete_after`) and `report_json`. Status rules follow the service (`service/transfers/`,
 * `service/transfers/retention.ts`): upload + conversion → converted; send → sent; the first download of a sent
 * transfer → downloaded; receipt → received; deletion → discarded when cancelled, deleted otherwise.
 */
import type { OperationRecord } from "../../ledger/entry/operation-record.js";

/** The committed columns of a `transfers` row, with the service's column names. */
export interface CommittedTransferRow {
  id: string;
  sender_id: string;
  receiver_id: string;
  status: "converted" | "sent" | "downloaded" | "received" | "discarded" | "deleted";
  mapping_id: string | null;
  original_sha256: string;
  original_bytes: number | null;
  standard_sha256: string | null;
  standard_bytes: number | null;
  records: number | null;
  rows_rejected: number | null;
}

/** The committed column names, in table order. */
export const COMMITTED_TRANSFER_COLUMNS = [
  "id",
  "sender_id",
  "receiver_id",
  "status",
  "mapping_id",
  "original_sha256",
  "original_bytes",
  "standard_sha256",
  "standard_bytes",
  "records",
  "rows_rejected",
] as const satisfies readonly (keyof CommittedTransferRow)[];

/** Folds entries, in log order, into the rows they commit to. */
export class TransferProjection {
  readonly #rows = new Map<string, CommittedTransferRow>();
  /** Transfers whose entries contradict each other (e.g. a send naming another receiver). */
  readonly #conflicts = new Set<string>();

  apply(record: OperationRecord): void {
    switch (record.type) {
      case "upload":
        this.#rows.set(record.transfer, {
          id: record.transfer,
          sender_id: record.institution,
          receiver_id: record.receiver,
          status: "converted",
          mapping_id: null,
          original_sha256: record.file.sha256,
          original_bytes: record.file.bytes ?? null,
          standard_sha256: null,
          standard_bytes: null,
          records: null,
          rows_rejected: null,
        });
        return;
      case "conversion": {
        const row = this.#rows.get(record.transfer);
        if (row === undefined) {
          this.#conflict(record.transfer);
          return;
        }
        row.standard_sha256 = record.output.sha256;
        row.standard_bytes = record.output.bytes ?? null;
        row.records = record.records.count;
        row.rows_rejected = record.rejected;
        row.mapping_id = record.mapping?.id ?? null;
        return;
      }
      case "send": {
        const row = this.#rows.get(record.transfer);
        if (row?.receiver_id !== record.receiver) {
          this.#conflict(record.transfer);
          return;
        }
        row.status = "sent";
        return;
      }
      case "download": {
        const row = this.#rows.get(record.transfer);
        if (row === undefined) {
          this.#conflict(record.transfer);
          return;
        }
        if (row.status === "sent") row.status = "downloaded";
        return;
      }
      case "receipt": {
        const row = this.#rows.get(record.transfer);
        if (row === undefined) {
          this.#conflict(record.transfer);
          return;
        }
        row.status = "received";
        return;
      }
      case "deletion": {
        const row = this.#rows.get(record.transfer);
        if (row === undefined) {
          this.#conflict(record.transfer);
          return;
        }
        row.status = record.reason === "cancelled" ? "discarded" : "deleted";
        return;
      }
      case "seal":
      case "denial":
      case "login":
      case "logout":
      case "admin":
      case "audit-query":
      case "repair":
      case "note":
      case "alert":
        return;
    }
  }

  get(id: string): CommittedTransferRow | undefined {
    const row = this.#rows.get(id);
    return row === undefined ? undefined : { ...row };
  }

  ids(): IterableIterator<string> {
    return this.#rows.keys();
  }

  get size(): number {
    return this.#rows.size;
  }

  hasConflict(id: string): boolean {
    return this.#conflicts.has(id);
  }

  #conflict(id: string): void {
    this.#conflicts.add(id);
  }
}

/** The committed columns in which `row` differs from `expected` (names only). */
export function differingColumns(
  row: Readonly<Record<string, unknown>>,
  expected: CommittedTransferRow,
): string[] {
  return COMMITTED_TRANSFER_COLUMNS.filter((c) => (row[c] ?? null) !== expected[c]);
}
