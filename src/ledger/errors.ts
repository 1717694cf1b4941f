import { CodedError } from "../coded-error.js";

/**
 * Codes of the ledger domain. Each broken-proof case has its own code so a caller (and a test) can tell
 * exactly which check refused the input, as transparency-dev/merkle's named cases do.
 */
export type LedgerErrorCode =
  // Input that cannot be used at all (exit 2 from the CLI).
  | "LEDGER_HASH_SIZE_INVALID"
  | "LEDGER_ENCODING_INVALID"
  | "LEDGER_INDEX_OUT_OF_RANGE"
  | "LEDGER_SIZE_INVALID"
  | "LEDGER_ENTRY_INVALID"
  | "LEDGER_ENTRY_TOO_LARGE"
  | "LEDGER_RECORDS_ROOT_MISMATCH"
  | "LEDGER_VERIFIER_KEY_INVALID"
  | "LEDGER_COSIGNER_POLICY_INVALID"
  | "LEDGER_DB_UNUSABLE"
  | "LEDGER_DB_EXISTS"
  | "LEDGER_NOT_FOUND"
  | "LEDGER_EMPTY"
  | "LEDGER_CLOSED"
  // Verification failures (exit 1 from `kenshin verify` and `ledger fsck`).
  | "LEDGER_PROOF_SIZE_INVALID"
  | "LEDGER_PROOF_INVALID"
  | "LEDGER_CONSISTENCY_PROOF_INVALID"
  | "LEDGER_CONSISTENCY_EMPTY_TREE"
  | "LEDGER_CONSISTENCY_SIZE_ORDER"
  | "LEDGER_ROOT_MISMATCH"
  | "LEDGER_NOTE_MALFORMED"
  | "LEDGER_CHECKPOINT_MALFORMED"
  | "LEDGER_CHECKPOINT_ORIGIN_MISMATCH"
  | "LEDGER_CHECKPOINT_SIGNATURE_INVALID"
  | "LEDGER_CHECKPOINT_UNSIGNED"
  | "LEDGER_CHECKPOINT_MISSING"
  | "LEDGER_CHECKPOINT_INCONSISTENT"
  | "LEDGER_COSIGNATURE_INVALID"
  | "LEDGER_COSIGNATURE_QUORUM"
  | "LEDGER_COSIGNER_UNKNOWN"
  | "LEDGER_COSIGNER_DUPLICATE"
  | "LEDGER_COSIGNATURE_FUTURE"
  | "LEDGER_ENTRY_MISSING"
  | "LEDGER_LEAF_HASH_MISMATCH"
  | "LEDGER_ENTRY_NOT_CANONICAL"
  | "LEDGER_ENTRY_OUT_OF_ORDER"
  | "LEDGER_ENTRY_REWRITTEN"
  | "LEDGER_CHAIN_BROKEN"
  | "LEDGER_NODE_MISMATCH"
  | "LEDGER_EXTRA_ROWS"
  | "LEDGER_OUTBOX_INVALID";

/** Codes that mean "the data was checked and is not what was signed" rather than "unusable input". */
const VERIFICATION_FAILURES: ReadonlySet<LedgerErrorCode> = new Set<LedgerErrorCode>([
  "LEDGER_PROOF_SIZE_INVALID",
  "LEDGER_PROOF_INVALID",
  "LEDGER_CONSISTENCY_PROOF_INVALID",
  "LEDGER_CONSISTENCY_EMPTY_TREE",
  "LEDGER_CONSISTENCY_SIZE_ORDER",
  "LEDGER_ROOT_MISMATCH",
  "LEDGER_NOTE_MALFORMED",
  "LEDGER_CHECKPOINT_MALFORMED",
  "LEDGER_CHECKPOINT_ORIGIN_MISMATCH",
  "LEDGER_CHECKPOINT_SIGNATURE_INVALID",
  "LEDGER_CHECKPOINT_UNSIGNED",
  "LEDGER_CHECKPOINT_MISSING",
  "LEDGER_CHECKPOINT_INCONSISTENT",
  "LEDGER_COSIGNATURE_INVALID",
  "LEDGER_COSIGNATURE_QUORUM",
  "LEDGER_COSIGNER_UNKNOWN",
  "LEDGER_COSIGNER_DUPLICATE",
  "LEDGER_COSIGNATURE_FUTURE",
  "LEDGER_ENTRY_MISSING",
  "LEDGER_LEAF_HASH_MISMATCH",
  "LEDGER_ENTRY_NOT_CANONICAL",
  "LEDGER_ENTRY_OUT_OF_ORDER",
  "LEDGER_ENTRY_REWRITTEN",
  "LEDGER_CHAIN_BROKEN",
  "LEDGER_NODE_MISMATCH",
  "LEDGER_EXTRA_ROWS",
  "LEDGER_RECORDS_ROOT_MISMATCH",
  "LEDGER_OUTBOX_INVALID",
]);

/** The ledger domain's error: a stable code, log-safe context (hashes and indices only), optional cause. */
export class LedgerError extends CodedError<LedgerErrorCode> {
  override readonly name = "LedgerError";
}

/** True when the error says stored or presented data failed a check (the CLI exits 1, not 2). */
export function isVerificationFailure(error: unknown): error is LedgerError {
  return error instanceof LedgerError && VERIFICATION_FAILURES.has(error.code);
}
