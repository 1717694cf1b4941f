/**
 * The leaf bytes: RFC 8785 (JCS) canonical JSON of an operation record, UTF-8. One record has exactly one
 * byte form, so anyone can recompute a leaf hash with `jq`-free tools and `sha256sum`.
 * https://www.rfc-editor.org/rfc/rfc8785
 */
import { LedgerError } from "../errors.js";
import { fromUtf8, utf8 } from "../verify/encoding.js";
import { canonicalJson, isCanonicalSortedText, isCanonicalText } from "./canonical-json.js";
import { isPlainCanonical } from "./canonical-scan.js";
import { compileBytesCheck, type BytesCheckResult } from "./compiled-bytes-check.js";
import { compileCheck } from "./compiled-check.js";
import { compileJsonWriter } from "./compiled-json.js";
import { operationRecordSchema, type OperationRecord } from "./operation-record.js";

/**
 * The schema compiled into a predicate (`compiled-check.ts`): a record it accepts is one zod accepts
 * unchanged; for anything else zod itself decides and reports the issues.
 */
const isPlainValidRecord = compileCheck(operationRecordSchema);
/** The same check that also wants every object's keys in JCS order (for decoding stored entries). */
const isSortedValidRecord = compileCheck(operationRecordSchema, { sortedKeys: true });
/** The JCS writer for records that check accepted (`compiled-json.ts`): the same text, cheaper. */
const writeRecord = compileJsonWriter(operationRecordSchema);

/** Largest entry accepted, in bytes: records hold hashes and identifiers, never payloads. */
export const MAX_ENTRY_BYTES = 64 * 1024;

/** The schema compiled into a check over stored bytes (`compiled-bytes-check.ts`), capturing `prev`. */
const scanBytes = compileBytesCheck(operationRecordSchema, { capture: "prev", maxBytes: MAX_ENTRY_BYTES });

/**
 * fsck's shortcut: whether stored bytes are plain canonical text of a valid record — one that
 * {@link decodeEntry} returns unchanged — without decoding them; if so, its `type` and the offset of its
 * `prev` value (the opening quote of 64 lowercase hex digits). Null decides nothing: ask
 * {@link decodeEntry}, which gives the verdict and the error code.
 */
export function scanStoredEntry(bytes: Uint8Array): BytesCheckResult | null {
  return scanBytes(bytes);
}

/**
 * Validates a record and returns its canonical bytes.
 * @throws LedgerError LEDGER_ENTRY_INVALID, LEDGER_ENTRY_TOO_LARGE
 */
export function encodeEntry(record: OperationRecord): Uint8Array {
  // One compiled check decides both validity and the writer (zod reports what it refuses).
  if (fastCheck(record)) return sized(writeRecord(record));
  assertValidRecord(record);
  return sized(canonicalJson(record));
}

/**
 * Checks a record against the schema without encoding it.
 * @throws LedgerError LEDGER_ENTRY_INVALID
 */
export function assertValidRecord(record: OperationRecord): void {
  if (fastCheck(record)) return;
  const parsed = operationRecordSchema.safeParse(record);
  if (!parsed.success) {
    throw new LedgerError("LEDGER_ENTRY_INVALID", "操作記録の形式が正しくありません", {
      issues: parsed.error.issues.map((i) => ({ path: i.path.join("."), code: i.code })),
    });
  }
}

/**
 * The canonical bytes of a record already checked with {@link assertValidRecord} (the sequencer checks
 * when a call is made and encodes once the batch fixes `prev`).
 * @throws LedgerError LEDGER_ENTRY_INVALID, LEDGER_ENTRY_TOO_LARGE
 */
export function canonicalBytes(record: OperationRecord): Uint8Array {
  return sized(fastCheck(record) ? writeRecord(record) : canonicalJson(record));
}

/** @throws LedgerError LEDGER_ENTRY_INVALID (not JSON data), LEDGER_ENTRY_TOO_LARGE */
function sized(text: string | undefined): Uint8Array {
  if (text === undefined) throw new LedgerError("LEDGER_ENTRY_INVALID", "操作記録を JSON にできません");
  const bytes = utf8(text);
  if (bytes.length > MAX_ENTRY_BYTES) {
    throw new LedgerError("LEDGER_ENTRY_TOO_LARGE", "操作記録が大きすぎます", { bytes: bytes.length });
  }
  return bytes;
}

/**
 * Parses leaf bytes back into a record, refusing anything that is not exactly the canonical form of a
 * valid record (so a stored entry cannot carry a second, different reading).
 * @throws LedgerError LEDGER_ENTRY_INVALID, LEDGER_ENTRY_NOT_CANONICAL, LEDGER_ENTRY_TOO_LARGE
 */
export function decodeEntry(bytes: Uint8Array): OperationRecord {
  if (bytes.length > MAX_ENTRY_BYTES) {
    throw new LedgerError("LEDGER_ENTRY_TOO_LARGE", "操作記録が大きすぎます", { bytes: bytes.length });
  }
  let raw: unknown;
  let text: string;
  try {
    text = fromUtf8(bytes, "entry");
    raw = JSON.parse(text);
  } catch (cause) {
    throw new LedgerError("LEDGER_ENTRY_INVALID", "操作記録が JSON ではありません", {}, { cause });
  }
  // The usual stored entry: plain text already in JCS form (one scan over the bytes) and valid.
  if (isPlainCanonical(bytes) && fastCheck(raw)) return raw as OperationRecord;
  // Valid, keys in order — only the text's exact form is left to compare.
  if (checkSafely(isSortedValidRecord, raw)) {
    if (!isCanonicalSortedText(raw, text)) {
      throw new LedgerError("LEDGER_ENTRY_NOT_CANONICAL", "操作記録が正規形 (RFC 8785) ではありません");
    }
    return raw as OperationRecord;
  }
  const record = fastCheck(raw) ? (raw as OperationRecord) : parseWithZod(raw);
  // Re-serialise what was parsed and compare: the only text that passes is the JCS form itself.
  if (!isCanonicalText(raw, text)) {
    throw new LedgerError("LEDGER_ENTRY_NOT_CANONICAL", "操作記録が正規形 (RFC 8785) ではありません");
  }
  return record;
}

/** The schema's own verdict, with its issues. @throws LedgerError LEDGER_ENTRY_INVALID */
function parseWithZod(raw: unknown): OperationRecord {
  let parsed;
  try {
    parsed = operationRecordSchema.safeParse(raw);
  } catch (cause) {
    // Nesting deep enough to exhaust the stack is not a record either.
    throw new LedgerError("LEDGER_ENTRY_INVALID", "操作記録の形式が正しくありません", {}, { cause });
  }
  if (!parsed.success) {
    throw new LedgerError("LEDGER_ENTRY_INVALID", "操作記録の形式が正しくありません", {
      issues: parsed.error.issues.map((i) => ({ path: i.path.join("."), code: i.code })),
    });
  }
  return parsed.data;
}

/** The compiled check; a value it cannot decide (or too deeply nested for it) goes to zod. */
function fastCheck(value: unknown): boolean {
  return checkSafely(isPlainValidRecord, value);
}

function checkSafely(check: (value: unknown) => boolean, value: unknown): boolean {
  try {
    return check(value);
  } catch {
    return false;
  }
}
