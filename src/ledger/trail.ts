/**
 * The trail of a file: every entry that names the file's hash, every entry of the same transfers, and the
 * conversion entries that commit to its records — each re-hashed from its stored bytes and checked with an
 * inclusion proof against the latest checkpoint, whose signature is checked against the caller's pinned
 * key. Records get the two-level proof (record in file, entry in log). Only the pure `verify/` functions
 * decide; storage is just where the bytes come from.
 */
import { decodeEntry } from "./entry/canonical-entry.js";
import type { OperationRecord } from "./entry/operation-record.js";
import { recordTree } from "./entry/records-commitment.js";
import { LedgerError } from "./errors.js";
import type { LogStorage } from "./log-storage.js";
import { buildInclusionProof } from "./proof-builder.js";
import { openCheckpoint, type Checkpoint } from "./verify/checkpoint.js";
import { bytesEqual, fromHex, toHex } from "./verify/encoding.js";
import { rfc6962Hasher } from "./verify/hash.js";
import { verifyInclusion } from "./verify/inclusion.js";
import { verifyRecordProof } from "./verify/record-proof.js";
import type { VerifierKey } from "./verify/verifier-key.js";

/** One verified entry of a trail. */
export interface TrailEntry {
  readonly index: number;
  readonly leafHash: string;
  readonly record: OperationRecord;
  /** Why it is in the trail. */
  readonly matched: "file" | "transfer" | "record";
}

/** Result of {@link verifyTrail}; any failed check throws instead. */
export interface Trail {
  readonly checkpoint: Checkpoint;
  readonly fileSha256: string;
  readonly entries: readonly TrailEntry[];
  /** Record hashes of the file and how many were proven, per conversion entry. */
  readonly records: {
    readonly total: number;
    readonly proven: number;
    readonly byEntry: Readonly<Record<number, number>>;
  };
}

/** What to verify. */
export interface TrailRequest {
  readonly storage: LogStorage;
  readonly logKey: VerifierKey;
  readonly fileSha256: string;
  readonly recordHashes: readonly string[];
}

/**
 * Finds and verifies the trail of a file.
 * @throws LedgerError a verification code when a signature or proof fails; LEDGER_NOT_FOUND when neither the
 *   file nor any of its records is in the signed part of the log, or when the file is not and some of its
 *   records are not either (an altered copy must not pass on the strength of its other records)
 */
export function verifyTrail(request: TrailRequest): Trail {
  const { storage, logKey, fileSha256, recordHashes } = request;
  const latest = storage.latestCheckpoint();
  if (latest === null)
    throw new LedgerError("LEDGER_CHECKPOINT_MISSING", "署名済みチェックポイントがありません");
  const { checkpoint } = openCheckpoint(latest.note, logKey);
  const size = checkpoint.size;
  const inTree = (i: number): boolean => i < size;

  const matched = new Map<number, TrailEntry["matched"]>();
  for (const i of storage.findByKey(`sha256:${fileSha256}`).filter(inTree)) matched.set(i, "file");
  const recordHits = new Map<number, { position: number; hash: string }[]>();
  recordHashes.forEach((hash) => {
    for (const hit of storage.findRecord(fromHex(hash, "record hash")).filter((h) => inTree(h.index))) {
      const list = recordHits.get(hit.index) ?? [];
      list.push({ position: hit.position, hash });
      recordHits.set(hit.index, list);
      if (!matched.has(hit.index)) matched.set(hit.index, "record");
    }
  });
  if (matched.size === 0) {
    throw new LedgerError("LEDGER_NOT_FOUND", "このファイルもそのレコードも署名済みの台帳にありません", {
      fileSha256,
    });
  }

  const verified = new Map<number, TrailEntry>();
  const verifyEntry = (index: number, why: TrailEntry["matched"]): TrailEntry => {
    const done = verified.get(index);
    if (done !== undefined) return done;
    const bytes = storage.entry(index).entry;
    const leafHash = rfc6962Hasher.hashLeaf(bytes);
    const proof = buildInclusionProof(storage, rfc6962Hasher, index, size);
    verifyInclusion({ index, size, leafHash, proof, root: checkpoint.root });
    const entry: TrailEntry = { index, leafHash: toHex(leafHash), record: decodeEntry(bytes), matched: why };
    verified.set(index, entry);
    return entry;
  };
  for (const [index, why] of matched) {
    const entry = verifyEntry(index, why);
    if ("transfer" in entry.record) {
      for (const j of storage.findByKey(`transfer:${entry.record.transfer}`).filter(inTree)) {
        if (!matched.has(j)) verifyEntry(j, "transfer");
      }
    }
  }

  const byEntry: Record<number, number> = {};
  const provenHashes = new Set<string>();
  for (const [index, hits] of recordHits) {
    const entry = verifyEntry(index, matched.get(index) ?? "record");
    if (entry.record.type !== "conversion") continue;
    const tree = recordTree(storage.recordHashes(index));
    const recordsRoot = fromHex(entry.record.records.root);
    if (!bytesEqual(tree.root(), recordsRoot) || tree.size !== entry.record.records.count) {
      throw new LedgerError(
        "LEDGER_RECORDS_ROOT_MISMATCH",
        "保存されたレコードハッシュが変換記録と一致しません",
        { index },
      );
    }
    for (const hit of hits) {
      verifyRecordProof({
        recordHash: fromHex(hit.hash),
        position: hit.position,
        count: entry.record.records.count,
        proof: tree.inclusionProof(hit.position),
        recordsRoot,
      });
      provenHashes.add(hit.hash);
      byEntry[index] = (byEntry[index] ?? 0) + 1;
    }
  }
  const proven = recordHashes.filter((h) => provenHashes.has(h)).length;
  if (proven < recordHashes.length && ![...matched.values()].includes("file")) {
    const unproven = recordHashes.flatMap((h, i) => (provenHashes.has(h) ? [] : [i + 1]));
    throw new LedgerError("LEDGER_NOT_FOUND", "ファイルが台帳になく、台帳にないレコードを含みます", {
      fileSha256,
      unprovenRecords: unproven.slice(0, 20),
      unprovenCount: unproven.length,
    });
  }
  const entries = [...verified.values()].sort((a, b) => a.index - b.index);
  return { checkpoint, fileSha256, entries, records: { total: recordHashes.length, proven, byEntry } };
}
