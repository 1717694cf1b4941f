/**
 * Record-by-record verification of a file that is not itself on record (an edited copy, or an Excel
 * copy in another encoding), as `kenshin verify --url` does: every record line is hashed here and looked
 * up (hash only, POST body), and each answer's two-level proof — record in file, entry in log — is
 * verified against the pinned key (and, in a cluster, the pinned cosigners' quorum). The result says which records are still proven and which are not;
 * an edited copy never passes on the strength of its other records.
 *
 * Excel copies: a UTF-8 byte-order mark is ignored, and a file that is not UTF-8 is also tried as
 * Shift_JIS re-encoded to UTF-8 (the standard CSV's record hashes are over its own encoding's bytes).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { splitCsvLines } from "../../src/format/record-split.js";
import { toHex } from "../../src/ledger/verify/encoding.js";
import type { CosignerPolicy } from "../../src/ledger/verify/published-checkpoint.js";
import type { VerifierKey } from "../../src/ledger/verify/verifier-key.js";
import { apiErrorOf, type Api } from "./api.js";
import { hasUtf8Bom } from "./cp932-encode.js";
import { checkTrail } from "./trail-check.js";
import type { TransferView } from "./types.js";

/** Most records looked up one by one (as the CLI: each look-up is an audited read). */
export const MAX_RECORD_LOOKUPS = 200;
const PARALLEL = 4;

export interface RecordResult {
  /** 1-based line of the file (the header is line 1). */
  readonly line: number;
  readonly hash: string;
  readonly proven: boolean;
  readonly transfer?: TransferView;
}

export type RecordCheck =
  | { readonly kind: "checked"; readonly records: readonly RecordResult[] }
  | { readonly kind: "too-many" | "no-records"; readonly count: number };

/** The first bytes of the optional JLAC10 code header row (a header, not a record: no hash). */
const CODE_HEADER_START = [0x4a, 0x4c, 0x41, 0x43, 0x31, 0x30, 0x2c]; // "JLAC10,"

/**
 * The record hashes of a standard CSV's bytes: every line after the header (and after the JLAC10 code
 * header row when the file has one), without CRLF.
 */
export function recordHashes(bytes: Uint8Array): { line: number; hash: string }[] {
  const spans = splitCsvLines(bytes);
  const second = spans[1];
  const skip =
    second !== undefined && CODE_HEADER_START.every((b, i) => bytes[second.start + i] === b) ? 2 : 1;
  return spans
    .slice(skip)
    .map((s, i) => ({
      line: i + 1 + skip,
      hash: toHex(sha256(bytes.subarray(s.start, s.end))),
      empty: s.end === s.start,
    }))
    .filter((r) => !r.empty)
    .map(({ line, hash }) => ({ line, hash }));
}

/** The byte forms of the file worth trying: as is (without a BOM), and re-encoded from Shift_JIS. */
export function candidateForms(bytes: Uint8Array): Uint8Array[] {
  const plain = hasUtf8Bom(bytes) ? bytes.subarray(3) : bytes;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(plain);
    return [plain];
  } catch {
    return [plain, new TextEncoder().encode(new TextDecoder("shift_jis").decode(plain))];
  }
}

/** The pinned key and, in a cluster, the pinned cosigners (verifier-pin.ts). */
export interface PinnedTrust {
  readonly key: VerifierKey;
  readonly cosigners?: CosignerPolicy | undefined;
}

async function lookUp(api: Api, trust: PinnedTrust, line: number, hash: string): Promise<RecordResult> {
  let answer: unknown;
  try {
    answer = await api.send<unknown>("POST", "/api/v1/lookup", { sha256: hash }, { sign: false });
  } catch (e) {
    if (apiErrorOf(e).code === "NOT_FOUND") return { line, hash, proven: false };
    throw e;
  }
  const check = checkTrail(answer, trust.key, {
    recordHash: hash,
    ...(trust.cosigners === undefined ? {} : { cosigners: trust.cosigners }),
  });
  const transfer = (answer as { transfer?: TransferView }).transfer;
  return check.verified && transfer ? { line, hash, proven: true, transfer } : { line, hash, proven: false };
}

/** Checks every record of `bytes`; `onProgress(done, count)` after each answer. */
export async function checkRecords(
  api: Api,
  trust: PinnedTrust,
  bytes: Uint8Array,
  onProgress: (done: number, count: number) => void,
): Promise<RecordCheck> {
  let best: RecordResult[] | undefined;
  for (const form of candidateForms(bytes)) {
    const records = recordHashes(form);
    if (records.length === 0) return { kind: "no-records", count: 0 };
    if (records.length > MAX_RECORD_LOOKUPS) return { kind: "too-many", count: records.length };
    const results: RecordResult[] = new Array<RecordResult>(records.length);
    let next = 0;
    let done = 0;
    const worker = async (): Promise<void> => {
      while (next < records.length) {
        const i = next++;
        const r = records[i];
        if (!r) continue;
        results[i] = await lookUp(api, trust, r.line, r.hash);
        onProgress(++done, records.length);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    if (best === undefined || results.filter((r) => r.proven).length > best.filter((r) => r.proven).length)
      best = results;
    if (results.some((r) => r.proven)) break;
  }
  return { kind: "checked", records: best ?? [] };
}
