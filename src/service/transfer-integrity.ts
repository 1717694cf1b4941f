/**
 * Before any operation on a transfer, the ledger segment it relies on is verified — the seed system
 * checks signatures and the hash chain on every user operation: each of the transfer's entries is
 * re-hashed from its stored bytes and proven included under a signed checkpoint that covers all of them
 * (waiting for the next one when the newest entry is not covered yet, so no entry goes unproven), whose
 * signature is checked with the node's verifier key. A failure refuses the operation and appends an
 * alarm entry.
 */
import { decodeEntry } from "../ledger/entry/canonical-entry.js";
import type { OperationRecord } from "../ledger/entry/operation-record.js";
import { nodeHasher } from "../ledger/node-hasher.js";
import { openCheckpoint, type Checkpoint } from "../ledger/verify/checkpoint.js";
import type { VerifierKey } from "../ledger/verify/verifier-key.js";
import { bytesEqual, fromHex, toHex } from "../ledger/verify/encoding.js";
import { verifyInclusion } from "../ledger/verify/inclusion.js";
import { parseVerifierKey } from "../ledger/verify/verifier-key.js";
import { isCodedError } from "../coded-error.js";
import { audit, recordCommon } from "./audit.js";
import { systemActor, type ServiceContext } from "./context.js";
import { ServiceError } from "./errors.js";

export interface VerifiedEntry {
  readonly index: number;
  readonly leafHash: string;
  readonly record: OperationRecord;
  /** Inclusion proof (hex) under the checkpoint's tree size. */
  readonly proof: readonly string[];
}

export interface VerifiedSegment {
  readonly checkpoint: Checkpoint;
  readonly checkpointNote: string;
  readonly entries: readonly VerifiedEntry[];
}

/** Verifies the entries stored under a lookup key (e.g. `transfer:<id>`). */
export async function verifySegment(
  ctx: ServiceContext,
  lookupKey: string,
  transferId?: string,
): Promise<VerifiedSegment> {
  try {
    const indices = ctx.ledger.findByKey(lookupKey);
    const newest = indices.at(-1);
    const published =
      newest === undefined ? ctx.ledger.latestCheckpoint() : await ctx.ledger.checkpointCovering(newest);
    const note = published.note;
    const checkpoint = verifiedCheckpoint(ctx, note);
    const entries: VerifiedEntry[] = [];
    for (const index of indices) {
      const bytes = ctx.ledger.entry(index);
      const leafHash = nodeHasher.hashLeaf(bytes);
      if (!bytesEqual(leafHash, ctx.ledger.leafHash(index))) {
        throw new ServiceError("INTEGRITY_FAILURE", "台帳の記録が改ざんされています", { index });
      }
      const proof = ctx.ledger.inclusionProof(index, checkpoint.size);
      verifyInclusion({
        index,
        size: checkpoint.size,
        leafHash,
        proof: proof.proof.map((h) => fromHex(h)),
        root: checkpoint.root,
      });
      entries.push({
        index,
        leafHash: toHex(leafHash),
        record: decodeEntry(bytes),
        proof: proof.proof,
      });
    }
    return { checkpoint, checkpointNote: note, entries };
  } catch (error) {
    const code = isCodedError(error) ? error.code : "INTERNAL";
    await audit(ctx, [
      {
        ...recordCommon(
          ctx,
          systemActor("integrity-check"),
          "major-failure",
          `ledger segment ${lookupKey} failed: ${code}`,
        ),
        type: "denial",
        action: "integrity",
        code: /^[A-Z][A-Z0-9_]{2,63}$/.test(code) ? code : "INTEGRITY_FAILURE",
        ...(transferId !== undefined ? { transfer: transferId } : {}),
      },
    ]).catch(() => undefined);
    throw new ServiceError(
      "INTEGRITY_FAILURE",
      "台帳の検証に失敗したため、この操作を中止しました。事務局に連絡してください",
      { lookupKey },
      { cause: error },
    );
  }
}

/**
 * The checkpoint of a note, its signature checked with the node's key. Checkpoints change at most once
 * per batch (about once a second under load), so the last one verified is remembered per context: the
 * same note is not verified again on every read (pure-JS Ed25519 costs about a millisecond).
 */
function verifiedCheckpoint(ctx: ServiceContext, note: string): Checkpoint {
  const cached = lastVerified.get(ctx);
  if (cached?.note === note) return cached.checkpoint;
  const key = cached?.key ?? parseVerifierKey(ctx.verifierKey);
  const { checkpoint } = openCheckpoint(note, key);
  lastVerified.set(ctx, { note, checkpoint, key });
  return checkpoint;
}

const lastVerified = new WeakMap<
  ServiceContext,
  { note: string; checkpoint: Checkpoint; key: VerifierKey }
>();
