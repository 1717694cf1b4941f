/**
 * The audit list (`GET /api/v1/audit`): the newest entries an account may read, newest first — all of
 * them for the office (entries hold identifiers and hashes only), an institution's own otherwise, found
 * through the ledger's `institution:` index instead of scanning the log backwards. Reading it is itself
 * recorded (an audit-query entry, through the same group commit as every other append).
 */
import { confidentialityOfRecord } from "../../fhir/audit-event.js";
import { labels, permits, ROLE_CLEARANCE } from "../../fhir/security-labels.js";
import { decodeEntry } from "../../ledger/entry/canonical-entry.js";
import { audit, recordCommon } from "./audit.js";
import type { Actor, ServiceContext } from "../context.js";
import { ServiceError } from "../errors.js";
import type { Session } from "../identity/sessions.js";

/** Most entries one request may ask for. */
export const MAX_AUDIT_LIMIT = 500;

export interface AuditListAnswer {
  /** Size of the log when it was read. */
  readonly treeSize: number;
  readonly entries: readonly { readonly index: number; readonly entry: unknown }[];
}

/** The newest `limit` entries this session may read. */
export async function listAuditEntries(
  ctx: ServiceContext,
  session: Session,
  actor: Actor,
  limit: number,
): Promise<AuditListAnswer> {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT) {
    throw new ServiceError("REQUEST_INVALID", "件数の指定が正しくありません", {});
  }
  const size = ctx.ledger.size();
  const decoder = new TextDecoder();
  const read = (index: number) => ({
    index,
    entry: JSON.parse(decoder.decode(ctx.ledger.entry(index))) as unknown,
  });
  let entries: { index: number; entry: unknown }[];
  if (session.role === "admin") {
    entries = Array.from({ length: Math.min(limit, size) }, (_, i) => read(size - 1 - i));
  } else {
    // Z4 (fhir/security-labels.ts): a party is cleared for N, so its institution's security events
    // (labelled R: failed logins, refusals, alerts) are the office's to read, here as in /fhir.
    const clearance = ROLE_CLEARANCE[session.role];
    entries = [];
    let before = size;
    while (entries.length < limit) {
      const batch = ctx.ledger.latestByKey(`institution:${session.institution.id}`, limit, before);
      for (const index of batch) {
        const record = decodeEntry(ctx.ledger.entry(index));
        if (entries.length < limit && permits(clearance, labels(confidentialityOfRecord(record))))
          entries.push(read(index));
      }
      const last = batch.at(-1);
      if (last === undefined || batch.length < limit) break;
      before = last;
    }
  }
  await audit(ctx, [
    { ...recordCommon(ctx, actor, "success"), type: "audit-query", query: `latest ${limit}` },
  ]);
  return { treeSize: size, entries };
}
