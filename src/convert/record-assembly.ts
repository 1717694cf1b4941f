/**
 * Builds one standard record from the raw values gathered for it (from one wide row, or from all the
 * rows of one visit in a long export), then applies the record rules.
 */
import type { OutputEncoding } from "../format/output-encoding.js";
import { emptyRecord, type StandardRecord } from "../format/standard-csv.js";
import { convertField, type FindingState, type RawValue } from "./field-convert.js";
import type { Issue } from "./issues.js";
import type { CompiledRule } from "./mapping-check.js";
import { applyRecordRules, type RecordRulePlan } from "./record-rules.js";

/** The raw values of one record, per rule. */
export interface RawRecord {
  /** Line where the record starts (wide: its row; long: the visit's first row). */
  readonly line: number;
  readonly cells: ReadonlyMap<CompiledRule, readonly RawValue[]>;
}

export interface AssembledRecord {
  readonly record: StandardRecord;
  readonly rejected: boolean;
}

export function assembleRecord(
  plan: RecordRulePlan,
  raw: RawRecord,
  encoding: OutputEncoding,
  issues: Issue[],
): AssembledRecord {
  const record = emptyRecord(plan.dictionary);
  const findings = new Map<number, FindingState>();
  const missing = plan.checked.missingValues;
  let rejected = false;
  for (const [rule, raws] of raw.cells) {
    const outcome = convertField(rule, raws, missing, issues);
    if (outcome.rejected) rejected = true;
    record.values[rule.index] = outcome.value;
    record.originals[rule.index] = outcome.original;
    if (outcome.finding !== undefined) findings.set(rule.index, outcome.finding);
  }
  if (applyRecordRules(plan, record, findings, raw.line, encoding, issues)) rejected = true;
  return { record, rejected };
}
