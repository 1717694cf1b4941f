/**
 * Verifies a trail answered by the service (GET /api/v1/transfers/{id}/trail, POST /api/v1/lookup)
 * without trusting the service: the checkpoint's signature against a pinned verifier key, each entry's
 * leaf hash recomputed from its canonical JSON (RFC 8785), each inclusion proof against the signed
 * root (RFC 9162 §2.1.3.2), that the file (or record) is what the entries commit to, and for one record
 * the proof that it is in the file's records tree (the two-level proof). Given a cosigner policy (a
 * cluster's pinned node keys and quorum), the checkpoint must also be published: cosigned by a quorum of
 * them (published-checkpoint.ts). Pure: the browser runs it too.
 */
import { encodeEntry } from "../entry/canonical-entry.js";
import { operationRecordSchema, type OperationRecord } from "../entry/operation-record.js";
import { LedgerError } from "../errors.js";
import { openCheckpoint, type Checkpoint } from "./checkpoint.js";
import {
  openPublishedCheckpoint,
  type CosignerPolicy,
  type VerifiedCosignature,
} from "./published-checkpoint.js";
import { fromHex, toHex } from "./encoding.js";
import { rfc6962Hasher } from "./hash.js";
import { verifyInclusion } from "./inclusion.js";
import { verifyRecordProof } from "./record-proof.js";
import type { VerifierKey } from "./verifier-key.js";

export interface RemoteTrailEntry {
  readonly index: number;
  readonly leafHash: string;
  readonly record: OperationRecord;
}

export interface VerifiedRemoteTrail {
  readonly checkpoint: Checkpoint;
  /** The pinned cosigners whose cosignatures verified (empty when no cosigner policy was given). */
  readonly cosignatures: readonly VerifiedCosignature[];
  readonly entries: readonly RemoteTrailEntry[];
  /** What the verified entries say about the file or record that was looked up. */
  readonly matched: "file" | "record" | "transfer";
}

interface AnswerShape {
  checkpoint: string;
  treeSize: number;
  entries: { index: number; leafHash: string; entry: unknown; proof: string[] }[];
  record?: {
    hash: string;
    position: number;
    count: number;
    recordsRoot: string;
    proof: string[];
    entryIndex: number;
  };
}

function fail(message: string, context: Record<string, unknown> = {}): never {
  throw new LedgerError("LEDGER_PROOF_INVALID", message, context);
}

function shape(answer: unknown): AnswerShape {
  const a = answer as Partial<AnswerShape> | null;
  if (a === null || typeof a !== "object" || typeof a.checkpoint !== "string" || !Array.isArray(a.entries)) {
    fail("証跡の形式が正しくありません");
  }
  return a as AnswerShape;
}

/** File references an entry commits to. */
function fileHashesOf(r: OperationRecord): string[] {
  if (r.type === "conversion") return [r.input.sha256, r.output.sha256];
  if (r.type === "upload" || r.type === "send" || r.type === "download" || r.type === "receipt")
    return [r.file.sha256];
  return [];
}

/**
 * Verifies an answer. `fileSha256` (a whole file) or `recordHash` (one record) names what the caller
 * holds; with neither, only the trail itself is verified.
 * @throws LedgerError when anything fails to verify
 */
export function verifyRemoteTrail(
  answer: unknown,
  o: { logKey: VerifierKey; cosigners?: CosignerPolicy; fileSha256?: string; recordHash?: string },
): VerifiedRemoteTrail {
  const a = shape(answer);
  const { checkpoint, cosignatures } =
    o.cosigners === undefined
      ? { checkpoint: openCheckpoint(a.checkpoint, o.logKey).checkpoint, cosignatures: [] }
      : openPublishedCheckpoint(a.checkpoint, o.logKey, o.cosigners);
  if (a.treeSize !== checkpoint.size) fail("証跡の木の大きさがチェックポイントと一致しません");
  const entries: RemoteTrailEntry[] = [];
  for (const e of a.entries) {
    const parsed = operationRecordSchema.safeParse(e.entry);
    if (!parsed.success || !Number.isSafeInteger(e.index) || !Array.isArray(e.proof))
      fail("証跡のエントリが正しくありません", { index: e.index });
    const leaf = rfc6962Hasher.hashLeaf(encodeEntry(parsed.data));
    if (toHex(leaf) !== e.leafHash) fail("エントリの内容が葉ハッシュと一致しません", { index: e.index });
    verifyInclusion({
      index: e.index,
      size: checkpoint.size,
      leafHash: leaf,
      proof: e.proof.map((p) => fromHex(p)),
      root: checkpoint.root,
    });
    entries.push({ index: e.index, leafHash: e.leafHash, record: parsed.data });
  }
  if (entries.length === 0) fail("検証できる記録がありません");
  let matched: VerifiedRemoteTrail["matched"] = "transfer";
  if (o.fileSha256 !== undefined) {
    if (!entries.some((e) => fileHashesOf(e.record).includes(o.fileSha256 ?? "")))
      fail("このファイルのハッシュ値は証跡にありません");
    matched = "file";
  }
  if (o.recordHash !== undefined) {
    const r = a.record;
    if (r?.hash !== o.recordHash) fail("このレコードの証明がありません");
    const conversion = entries.find((e) => e.index === r.entryIndex)?.record;
    if (
      conversion?.type !== "conversion" ||
      conversion.records.root !== r.recordsRoot ||
      conversion.records.count !== r.count
    ) {
      fail("レコードの証明が変換記録と一致しません");
    }
    verifyRecordProof({
      recordHash: fromHex(r.hash),
      position: r.position,
      count: r.count,
      proof: r.proof.map((p) => fromHex(p)),
      recordsRoot: fromHex(r.recordsRoot),
    });
    matched = "record";
  }
  return { checkpoint, cosignatures, entries, matched };
}
