/**
 * Reading transfers: lists, one transfer with its conversion report, its trail with inclusion proofs
 * and the signed checkpoint, and look-up by a file's or one record's hash (with the two-level proof:
 * record in file, entry in log). Reading a trail is itself recorded. Hashes of someone else's
 * transfer answer exactly as unknown ones do.
 */
import type { ConvertReport } from "../../convert/report.js";
import { recordTree } from "../../ledger/entry/records-commitment.js";
import { nodeHasher } from "../../ledger/node-hasher.js";
import { buildInclusionProof } from "../../ledger/proof-builder.js";
import { fromHex, toHex } from "../../ledger/verify/encoding.js";
import { decodeEntry } from "../../ledger/entry/canonical-entry.js";
import { cachedStatement } from "../../store/statement-cache.js";
import { audit, recordCommon } from "../audit/audit.js";
import type { Actor, ServiceContext } from "../context.js";
import { ServiceError } from "../errors.js";
import { recordRefusal } from "../audit/refusal-log.js";
import type { Session } from "../identity/sessions.js";
import { rowsAgreeingWithLedger, verifiedTransfer } from "./authority.js";
import type { VerifiedEntry } from "./integrity.js";
import {
  canSee,
  institutionNames,
  notFound,
  toView,
  TRANSFER_COLUMNS,
  transferReport,
  transferRow,
  visibleTransfer,
  type TransferRow,
} from "./records.js";
import type { TransferView } from "./view.js";

const SENDER_LIST = `SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE sender_id = ? ORDER BY created_at DESC LIMIT 2000`;
const RECEIVER_LIST = `SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE receiver_id = ? AND sent_at IS NOT NULL ORDER BY sent_at DESC LIMIT 2000`;

export async function listTransfers(ctx: ServiceContext, session: Session): Promise<TransferView[]> {
  const inst = session.institution.id;
  const rows =
    session.role === "sender"
      ? cachedStatement<[string], TransferRow>(ctx.db, SENDER_LIST).all(inst)
      : session.role === "receiver"
        ? cachedStatement<[string], TransferRow>(ctx.db, RECEIVER_LIST).all(inst)
        : [];
  const names = institutionNames(ctx);
  return (await rowsAgreeingWithLedger(ctx, rows)).map((r) => toView(ctx, r, names));
}

/** The row if the session may see it; otherwise the missing-transfer answer, recorded (rate-limited). */
async function visibleOrRefused(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  id: string,
  action: "read" | "trail",
): Promise<TransferRow> {
  try {
    return visibleTransfer(ctx, session, id);
  } catch (error) {
    if (error instanceof ServiceError) {
      // The id goes into the description, not the entry's transfer key: a probe by someone else must
      // not become part of the parties' trail (nor tell them who probed).
      const wellFormed = /^tr_[a-z2-7]{16}$/.test(id);
      await recordRefusal(ctx, actor, { action, code: error.code, ...(wellFormed ? { detail: id } : {}) });
    }
    throw error;
  }
}

/** A failed look-up: recorded (rate-limited), answered exactly as a missing transfer. */
export async function refuseLookup(ctx: ServiceContext, actor: Actor): Promise<never> {
  const error = notFound();
  await recordRefusal(ctx, actor, { action: "lookup", code: error.code });
  throw error;
}

export async function getTransfer(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  id: string,
): Promise<{ transfer: TransferView; report: ConvertReport | null }> {
  const row = await visibleOrRefused(ctx, actor, session, id, "read");
  await verifiedTransfer(ctx, row);
  const report = transferReport(ctx, row.id);
  // The receiver sees counts and codes too; the report never holds row values.
  return {
    transfer: toView(ctx, row),
    report: report === null ? null : (JSON.parse(report) as ConvertReport),
  };
}

export interface TrailAnswer {
  readonly transfer: TransferView;
  readonly checkpoint: string;
  readonly treeSize: number;
  readonly entries: readonly {
    readonly index: number;
    readonly leafHash: string;
    readonly entry: unknown;
    readonly proof: readonly string[];
  }[];
  /** For a look-up by one record's hash: the record's proof within its file. */
  readonly record?: {
    readonly hash: string;
    readonly position: number;
    readonly count: number;
    readonly recordsRoot: string;
    readonly proof: readonly string[];
    readonly entryIndex: number;
  };
}

/** A transfer's verified trail (re-verified on the server before it is returned). */
export async function transferTrail(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  id: string,
): Promise<TrailAnswer> {
  const row = await visibleOrRefused(ctx, actor, session, id, "trail");
  return trailOf(ctx, actor, row, `trail ${id}`);
}

async function trailOf(
  ctx: ServiceContext,
  actor: Actor,
  row: TransferRow,
  query: string,
): Promise<TrailAnswer> {
  const segment = await verifiedTransfer(ctx, row);
  await audit(ctx, [{ ...recordCommon(ctx, actor, "success"), type: "audit-query", query }]);
  return {
    transfer: toView(ctx, row),
    checkpoint: segment.checkpointNote,
    treeSize: segment.checkpoint.size,
    entries: segment.entries.map((e: VerifiedEntry) => ({
      index: e.index,
      leafHash: e.leafHash,
      entry: e.record,
      proof: e.proof,
    })),
  };
}

/**
 * Finds a transfer by the SHA-256 of a file (original or standard) or of one standard record, among the
 * transfers this session may see.
 */
export async function lookupByHash(
  ctx: ServiceContext,
  actor: Actor,
  session: Session,
  hash: string,
): Promise<TrailAnswer> {
  if (!/^[0-9a-f]{64}$/.test(hash)) return refuseLookup(ctx, actor);
  const byFile = ctx.db
    .prepare<[string, string], TransferRow>(
      `SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE standard_sha256 = ? OR original_sha256 = ? ORDER BY created_at`,
    )
    .all(hash, hash)
    .find((r) => canSee(session, r));
  if (byFile) return trailOf(ctx, actor, byFile, `lookup file ${hash}`);

  for (const hit of ctx.ledger.findRecord(fromHex(hash))) {
    const record = decodeEntry(ctx.ledger.entry(hit.index));
    if (record.type !== "conversion") continue;
    const row = transferRow(ctx, record.transfer);
    if (!row || !canSee(session, row)) continue;
    const hashes = ctx.ledger.recordHashes(hit.index);
    const tree = recordTree(hashes);
    const proof = buildInclusionProof(tree, nodeHasher, hit.position, hashes.length).map(toHex);
    const trail = await trailOf(ctx, actor, row, `lookup record ${hash}`);
    return {
      ...trail,
      record: {
        hash,
        position: hit.position,
        count: hashes.length,
        recordsRoot: record.records.root,
        proof,
        entryIndex: hit.index,
      },
    };
  }
  return refuseLookup(ctx, actor);
}
