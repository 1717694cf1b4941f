/**
 * Row-level issues: what the engine reports instead of stopping. A bad row never stops a run; it becomes
 * one or more issues and the counts reconcile (rows in = records out + rows rejected).
 *
 * Severity rule: an `error` rejects the record (it is not written); a `warning` keeps it.
 * Messages are Japanese, for the people who fix the source data; programs use `code`.
 */

/** Codes of row-level issues. Add new codes here (one list, so reports and docs stay complete). */
export type IssueCode =
  // source reading
  | "SOURCE_UNBALANCED_QUOTE"
  | "SOURCE_FIELD_TOO_LARGE"
  | "SOURCE_RAGGED_ROW"
  | "SOURCE_TOO_MANY_COLUMNS"
  | "SOURCE_DECODE_ERROR"
  | "SOURCE_EMPTY_ROW"
  | "SOURCE_COLUMN_UNMAPPED"
  | "SOURCE_PRIVATE_USE_CHAR"
  // values
  | "VALUE_NUMBER_INVALID"
  | "VALUE_OUT_OF_RANGE"
  | "VALUE_ROUNDED"
  | "VALUE_DATE_INVALID"
  | "VALUE_DATE_ERA_OVERFLOW"
  | "VALUE_CODE_UNKNOWN"
  | "VALUE_TERM_NOT_ALLOWED"
  | "VALUE_TOO_LONG"
  | "VALUE_NOT_ENCODABLE"
  | "VALUE_MULTIPLE_NOT_ALLOWED"
  | "VALUE_UNIT_MISMATCH"
  | "VALUE_FORMULA_NEUTRALISED"
  | "VALUE_THESAURUS_UNKNOWN"
  | "VALUE_ORIGINAL_TRUNCATED"
  // record level
  | "RECORD_KEY_MISSING"
  | "RECORD_DUPLICATE_ITEM"
  | "RECORD_DUPLICATE_KEY"
  | "RECORD_DUPLICATE_CONFLICT"
  | "RECORD_EMPTY"
  | "RECORD_UNSORTED"
  | "RECORD_REQUIRED_MISSING"
  | "COMPUTE_INPUT_MISSING"
  | "COMPUTE_INPUT_INVALID"
  | "CHECK_BMI_MISMATCH"
  | "CHECK_BP_SYSTOLIC_BELOW_DIASTOLIC"
  | "CHECK_FINDING_PRESENCE_MISMATCH"
  | "CHECK_LONG_ITEM_UNMAPPED";

/** error: the record is not written; warning: written, but look at it; info: for the record only. */
export type IssueSeverity = "error" | "warning" | "info";

/** Issue codes a field rule may re-grade with `severity` (the value-level ones). */
export const FIELD_POLICY_CODES = [
  "VALUE_NUMBER_INVALID",
  "VALUE_OUT_OF_RANGE",
  "VALUE_DATE_INVALID",
  "VALUE_DATE_ERA_OVERFLOW",
  "VALUE_CODE_UNKNOWN",
  "VALUE_TERM_NOT_ALLOWED",
  "VALUE_UNIT_MISMATCH",
  "VALUE_THESAURUS_UNKNOWN",
  "VALUE_ROUNDED",
] as const satisfies readonly IssueCode[];
export type FieldPolicyCode = (typeof FIELD_POLICY_CODES)[number];

/** One problem found in one source row (or one assembled record, for long exports). */
export interface Issue {
  readonly severity: IssueSeverity;
  readonly code: IssueCode;
  /** 1-based physical line number in the source file where the row starts (0 when not tied to a row). */
  readonly row: number;
  /** Source column (header name or 1-based position), when the issue is tied to one. */
  readonly column?: string;
  /** Item key in the dictionary, when the issue is tied to one. */
  readonly item?: string;
  /** Japanese explanation for people. Never contains the examinee's name or other row values. */
  readonly message: string;
}

/** Result of a pure value transform: a value, or a coded failure the engine turns into an issue. */
export type TransformResult<T> =
  | { readonly ok: true; readonly value: T; readonly warning?: { code: IssueCode; message: string } }
  | { readonly ok: false; readonly code: IssueCode; readonly message: string };
