/**
 * Verifies a trail answer (GET /api/v1/transfers/{id}/trail or POST /api/v1/lookup) in the browser
 * against the pinned verifier key, entry by entry, so each line of the timeline gets its own mark: the
 * checkpoint's signature, each entry's leaf hash recomputed from its canonical JSON (RFC 8785) and its
 * inclusion proof against the signed root (RFC 9162 §2.1.3.2). The overall verdict is the shared
 * verifyRemoteTrail (the same code `kenshin verify --url` runs), and it must agree with every entry.
 */
import { encodeEntry } from "../../src/ledger/entry/canonical-entry.js";
import { operationRecordSchema, type OperationRecord } from "../../src/ledger/entry/operation-record.js";
import { openCheckpoint, type Checkpoint } from "../../src/ledger/verify/checkpoint.js";
import {
  openPublishedCheckpoint,
  type CosignerPolicy,
} from "../../src/ledger/verify/published-checkpoint.js";
import { fromHex, toHex } from "../../src/ledger/verify/encoding.js";
import { rfc6962Hasher } from "../../src/ledger/verify/hash.js";
import { verifyInclusion } from "../../src/ledger/verify/inclusion.js";
import { verifyRemoteTrail, type VerifiedRemoteTrail } from "../../src/ledger/verify/remote-trail.js";
import type { VerifierKey } from "../../src/ledger/verify/verifier-key.js";

export interface EntryCheck {
  readonly index: number;
  /** The parsed record (undefined when the entry is not even a valid record). */
  readonly record: OperationRecord | undefined;
  readonly verified: boolean;
}

export interface TrailCheck {
  readonly checkpoint: Checkpoint | undefined;
  readonly entries: readonly EntryCheck[];
  readonly verified: boolean;
  readonly result: VerifiedRemoteTrail | undefined;
}

interface RawEntry {
  readonly index?: unknown;
  readonly leafHash?: unknown;
  readonly entry?: unknown;
  readonly proof?: unknown;
}

function checkEntry(e: RawEntry, checkpoint: Checkpoint | undefined): EntryCheck {
  const parsed = operationRecordSchema.safeParse(e.entry);
  const index = typeof e.index === "number" ? e.index : -1;
  const record = parsed.success ? parsed.data : undefined;
  if (!record || checkpoint === undefined || !Number.isSafeInteger(index) || !Array.isArray(e.proof)) {
    return { index, record, verified: false };
  }
  try {
    const leaf = rfc6962Hasher.hashLeaf(encodeEntry(record));
    if (toHex(leaf) !== e.leafHash) return { index, record, verified: false };
    verifyInclusion({
      index,
      size: checkpoint.size,
      leafHash: leaf,
      proof: (e.proof as unknown[]).map((p) => fromHex(String(p))),
      root: checkpoint.root,
    });
    return { index, record, verified: true };
  } catch {
    return { index, record, verified: false };
  }
}

/** Checks every entry; never throws (a failure is a `verified: false`). */
export function checkTrail(
  answer: unknown,
  key: VerifierKey,
  o: { fileSha256?: string; recordHash?: string; cosigners?: CosignerPolicy } = {},
): TrailCheck {
  const a = (answer ?? {}) as { checkpoint?: unknown; entries?: unknown };
  let checkpoint: Checkpoint | undefined;
  try {
    // With a cluster's node keys pinned, only a published (quorum-cosigned) checkpoint counts.
    const open = (note: string): Checkpoint =>
      o.cosigners === undefined
        ? openCheckpoint(note, key).checkpoint
        : openPublishedCheckpoint(note, key, o.cosigners).checkpoint;
    checkpoint = typeof a.checkpoint === "string" ? open(a.checkpoint) : undefined;
  } catch {
    checkpoint = undefined;
  }
  const raw = Array.isArray(a.entries) ? (a.entries as RawEntry[]) : [];
  const entries = raw.map((e) => checkEntry(e, checkpoint));
  let result: VerifiedRemoteTrail | undefined;
  try {
    result = verifyRemoteTrail(answer, { logKey: key, ...o });
  } catch {
    result = undefined;
  }
  const verified = result !== undefined && entries.length > 0 && entries.every((e) => e.verified);
  return { checkpoint, entries, verified, result };
}
