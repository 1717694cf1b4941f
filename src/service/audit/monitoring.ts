/**
 * What the office watches (API only): conversion runs with counts and error codes, the ledger's size
 * and last checkpoint, the last backup, records per receiver per month — never personal data and never
 * row values.
 */
import { recentAlerts } from "./alerts.js";
import { ledgerRollbackBehind } from "../signing/checkpoint-memory.js";
import type { ServiceContext } from "../context.js";

interface ReportCounts {
  counts?: { rowsIn?: number; recordsOut?: number; rowsRejected?: number };
  issueCounts?: Record<string, { error: number; warning: number }>;
}

export function monitoring(ctx: ServiceContext) {
  const byStatus = ctx.db
    .prepare<[], { status: string; n: number }>("SELECT status, COUNT(*) AS n FROM transfers GROUP BY status")
    .all();
  const runs = ctx.db
    .prepare<
      [],
      {
        id: string;
        sender_id: string;
        receiver_id: string;
        status: string;
        created_at: string;
        report_json: string | null;
      }
    >(
      "SELECT id, sender_id, receiver_id, status, created_at, report_json FROM transfers ORDER BY created_at DESC LIMIT 100",
    )
    .all()
    .map((r) => {
      const report = r.report_json === null ? {} : (JSON.parse(r.report_json) as ReportCounts);
      return {
        transfer: r.id,
        sender: r.sender_id,
        receiver: r.receiver_id,
        status: r.status,
        createdAt: r.created_at,
        rowsIn: report.counts?.rowsIn ?? null,
        recordsOut: report.counts?.recordsOut ?? null,
        rowsRejected: report.counts?.rowsRejected ?? null,
        issueCodes: report.issueCounts ?? {},
      };
    });
  const checkpoint = latestCheckpointOrNull(ctx);
  const rolledBack = ledgerRollbackBehind(ctx);
  const lastBackup = ctx.db
    .prepare<[], { file: string; sha256: string; bytes: number; ledger_size: number; created_at: string }>(
      "SELECT file, sha256, bytes, ledger_size, created_at FROM backups ORDER BY id DESC LIMIT 1",
    )
    .get();
  const recordCounts = ctx.db
    .prepare<[], { receiver_id: string; month: string; records: number }>(
      "SELECT receiver_id, month, records FROM record_counts ORDER BY month DESC, receiver_id LIMIT 500",
    )
    .all()
    .map((r) => ({ receiver: r.receiver_id, month: r.month, records: r.records }));
  return {
    transfersByStatus: Object.fromEntries(byStatus.map((s) => [s.status, s.n])),
    conversionRuns: runs,
    ledger: {
      size: ctx.ledger.size(),
      checkpointSize: checkpoint?.size ?? 0,
      checkpoint: checkpoint?.note ?? null,
      // The alarm that needs no ledger entry: a ledger gone back from the node's memory cannot take one.
      integrity: rolledBack === undefined ? "ok" : "rolled-back",
    },
    lastBackup: lastBackup
      ? {
          file: lastBackup.file,
          sha256: lastBackup.sha256,
          bytes: lastBackup.bytes,
          ledgerSize: lastBackup.ledger_size,
          createdAt: lastBackup.created_at,
        }
      : null,
    recordCounts,
    /** L6: the latest monitoring alerts (bursts beyond the configured thresholds). */
    alerts: recentAlerts(ctx),
  };
}

/** The latest signed checkpoint, or null when the ledger has none (a cut ledger must still be shown). */
function latestCheckpointOrNull(ctx: ServiceContext): { size: number; note: string } | null {
  try {
    return ctx.ledger.latestCheckpoint();
  } catch {
    return null;
  }
}
