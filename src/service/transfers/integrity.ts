/**
 * Before any operation on a transfer, the ledger segment it relies on is verified — the seed system
 * checks signatures and the hash chain on every user operation: each of the transfer's entries is
 * re-hashed from its stored bytes and proven included under a signed checkpoint that covers all of them
 * (waiting for the next one when the newest entry is not covered yet, so no entry goes unproven), whose
 * signature is checked with the node's verifier key. A failure refuses the operation and appends an
 * alarm entry.
 */
import { decodeEntry } from "../../ledger/entry/canonical-entry.js";
import type { OperationRecord } from "../../ledger/entry/operation-record.js";
import { nodeHasher } from "../../ledger/node-hasher.js";
import { openCheckpoint, type Checkpoint } from "../../ledger/verify/checkpoint.js";
import type { VerifierKey } from "../../ledger/verify/verifier-key.js";
import { bytesEqual, fromHex, toHex } from "../../ledger/verify/encoding.js";
import { verifyInclusion } from "../../ledger/verify/inclusion.js";
import { parseVerifierKey } from "../../ledger/verify/verifier-key.js";
import { isCodedError } from "../../coded-error.js";
import { audit, recordCommon } from "../audit/audit.js";
import { ledgerAgainstMemory, rememberCheckpoint } from "../signing/checkpoint-memory.js";
import { systemActor, type ServiceContext } from "../context.js";
import { ServiceError } from "../errors.js";

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

/**
 * Verifies the entries stored under a lookup key (e.g. `transfer:<id>`). Every call re-reads each
 * entry's stored bytes and re-hashes them to its stored leaf hash (an edited entry is refused on the
 * next operation); what is a function of those bytes alone — the decoded record, and the inclusion
 * proof of that leaf hash under a given signed root — is kept ({@link ProvenEntries}), so a trail read
 * does not decode, rebuild and re-verify the same proofs while the checkpoint stays the same.
 */
export async function verifySegment(
  ctx: ServiceContext,
  lookupKey: string,
  transferId?: string,
): Promise<VerifiedSegment> {
  try {
    const ledger = ctx.ledger;
    // Indices and stored leaf hashes in one storage read where the port offers it.
    const keyed =
      ledger.keyedLeafHashes?.(lookupKey) ??
      ledger.findByKey(lookupKey).map((index) => ({ index, leafHash: ledger.leafHash(index) }));
    const newest = keyed.at(-1)?.index;
    // Wait for a signed checkpoint covering the newest entry, so no entry goes unproven…
    if (newest !== undefined) await coveringOrRetryLater(ledger, newest);
    // …and the signed checkpoint itself must not have gone back from the one this node remembers.
    const memory = ledgerAgainstMemory(ctx);
    const note = memory.note ?? ledger.latestCheckpoint().note;
    const checkpoint = verifiedCheckpoint(ctx, note);
    const proven = provenEntries(ledger);
    const entries: VerifiedEntry[] = [];
    for (const k of keyed) {
      const index = k.index;
      const bytes = ledger.entry(index);
      const leafHash = nodeHasher.hashLeaf(bytes);
      if (!bytesEqual(leafHash, k.leafHash)) {
        throw new ServiceError("INTEGRITY_FAILURE", "台帳の記録が改ざんされています", { index });
      }
      entries.push(proven.entry(ledger, index, leafHash, bytes, checkpoint));
    }
    if (transferId !== undefined && entries.length === 0) {
      // A transfer exists only through its entries: none at all is a deleted index or a cut ledger.
      throw new ServiceError("INTEGRITY_FAILURE", "転送の台帳記録がありません", { lookupKey });
    }
    if (memory.remembered !== note) rememberCheckpoint(ctx.paths, note);
    return { checkpoint, checkpointNote: note, entries };
  } catch (error) {
    if (error instanceof RetryLater) throw error.cause;
    const code = isCodedError(error) ? error.code : "INTERNAL";
    return raiseIntegrityAlarm(ctx, {
      code,
      description: `ledger segment ${lookupKey} failed: ${code}`,
      message: "台帳の検証に失敗したため、この操作を中止しました。事務局に連絡してください",
      ...(transferId !== undefined ? { transferId } : {}),
      cause: error,
    });
  }
}

/**
 * What a cluster answers when it cannot publish a checkpoint now — no majority (`CLUSTER_NO_QUORUM`) or
 * no ordering (`CLUSTER_UNAVAILABLE`): nothing was found damaged, so the read is refused with that coded
 * 503 ("retry later") and no alarm. Anything else — a wait that timed out while the cluster works (a copy
 * that does not reproduce the published root never gets one) — stays a failed verification.
 */
const RETRY_LATER = new Set(["CLUSTER_NO_QUORUM", "CLUSTER_UNAVAILABLE"]);

class RetryLater extends Error {
  constructor(override readonly cause: unknown) {
    super("retry later");
  }
}

async function coveringOrRetryLater(ledger: ServiceContext["ledger"], index: number): Promise<void> {
  try {
    await ledger.checkpointCovering(index);
  } catch (error) {
    if (isCodedError(error) && RETRY_LATER.has(error.code)) throw new RetryLater(error);
    throw error;
  }
}

/** Entries kept per ledger reader (FIFO-bounded; a few hundred bytes each with their proofs). */
const PROVEN_KEPT = 20_000;

/**
 * What was verified of entries, by index: the record decoded from the bytes that hash to `leafHash`,
 * and the last inclusion proof of `leafHash` verified under a signed checkpoint (size and root). Both
 * are pure functions of those inputs, so an entry is served from here only when the bytes read now hash
 * to the same leaf hash and — for the proof — the checkpoint has the same size and root; anything else
 * is decoded, proven and verified again. Nothing here is a verdict on what the storage holds now.
 */
class ProvenEntries {
  readonly #kept = new Map<
    number,
    { leafHash: Uint8Array; entry: VerifiedEntry; size: number; root: Uint8Array }
  >();

  entry(
    ledger: ServiceContext["ledger"],
    index: number,
    leafHash: Uint8Array,
    bytes: Uint8Array,
    checkpoint: Checkpoint,
  ): VerifiedEntry {
    const known = this.#kept.get(index);
    if (known !== undefined && bytesEqual(known.leafHash, leafHash)) {
      if (known.size === checkpoint.size && bytesEqual(known.root, checkpoint.root)) return known.entry;
      return this.#keep(index, leafHash, known.entry.record, ledger, checkpoint);
    }
    return this.#keep(index, leafHash, decodeEntry(bytes), ledger, checkpoint);
  }

  #keep(
    index: number,
    leafHash: Uint8Array,
    record: OperationRecord,
    ledger: ServiceContext["ledger"],
    checkpoint: Checkpoint,
  ): VerifiedEntry {
    const proof = ledger.inclusionProof(index, checkpoint.size);
    verifyInclusion({
      index,
      size: checkpoint.size,
      leafHash,
      proof: proof.proof.map((h) => fromHex(h)),
      root: checkpoint.root,
    });
    const entry: VerifiedEntry = { index, leafHash: toHex(leafHash), record, proof: proof.proof };
    if (!this.#kept.has(index) && this.#kept.size >= PROVEN_KEPT) {
      const oldest = this.#kept.keys().next();
      if (oldest.done !== true) this.#kept.delete(oldest.value);
    }
    this.#kept.set(index, { leafHash, entry, size: checkpoint.size, root: checkpoint.root });
    return entry;
  }
}

const proven = new WeakMap<ServiceContext["ledger"], ProvenEntries>();

function provenEntries(ledger: ServiceContext["ledger"]): ProvenEntries {
  let kept = proven.get(ledger);
  if (kept === undefined) {
    kept = new ProvenEntries();
    proven.set(ledger, kept);
  }
  return kept;
}

/**
 * The alarm: a `major-failure` denial entry (action `integrity`) with the failing code, then the coded
 * INTEGRITY_FAILURE the API answers 503. Used for a ledger segment that fails verification and for a
 * payload that fails authentication or its recorded hash — never serve what did not verify. The entry is
 * best effort: when the ledger itself is what failed, appending may fail too, and the refusal stands.
 * On a cluster node the node is first asked for its full check at once (`checkIntegrityNow`): what this
 * request met is damage to its own copy, which the check finds, quarantines and repairs from a peer.
 */
export async function raiseIntegrityAlarm(
  ctx: ServiceContext,
  o: { code: string; description: string; message: string; transferId?: string; cause?: unknown },
): Promise<never> {
  try {
    ctx.cluster?.checkIntegrityNow?.();
  } catch {
    // Never throws by contract; the refusal below stands whatever happens to the ask.
  }
  await audit(ctx, [
    {
      ...recordCommon(ctx, systemActor("integrity-check"), "major-failure", o.description.slice(0, 500)),
      type: "denial",
      action: "integrity",
      code: /^[A-Z][A-Z0-9_]{2,63}$/.test(o.code) ? o.code : "INTEGRITY_FAILURE",
      ...(o.transferId !== undefined ? { transfer: o.transferId } : {}),
    },
  ]).catch(() => undefined);
  throw new ServiceError(
    "INTEGRITY_FAILURE",
    o.message,
    o.transferId !== undefined ? { transferId: o.transferId } : {},
    o.cause !== undefined ? { cause: o.cause } : {},
  );
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
