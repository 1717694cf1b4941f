/**
 * Builds one standard record from the raw values gathered for it (from one wide row, or from all the
 * rows of one visit in a long export), then applies the record rules.
 */
import type { OutputEncoding } from "../format/output-encoding.js";
import type { BoundField } from "./column-binding.js";
import type { RowView } from "./row-view.js";
import { emptyRecord, type StandardRecord } from "../format/standard-csv.js";
import { convertField, type FieldOutcome, type FindingState, type RawValue } from "./field-convert.js";
import type { Issue } from "./issues.js";
import type { CompiledRule } from "./mapping-check.js";
import { applyRecordRules, recordRuleTargets, type RecordRulePlan } from "./record-rules.js";
import { ByteRow } from "./byte-rows.js";
import { FieldMemo, issuesForRow, MAX_KEY, type FieldMemoLimits } from "./field-memo.js";

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

/** A RawValue the wide assembler fills in place for each row. */
interface SlotValue {
  text: string;
  row: number;
  column: string;
}

/**
 * Assembles the records of a wide export row by row, as `assembleRecord(plan, { line, cells:
 * bound.headerCells(row) })` does — same values, same issues in the same order — without a Map, an
 * array and a RawValue per field and row: each single-column field has one value slot filled in place,
 * and with `reuse` (the record is not kept after it is written: duplicates are not merged) one record
 * is cleared and filled again.
 */
export class WideAssembler {
  private readonly plan: RecordRulePlan;
  private readonly fields: readonly BoundField[];
  private readonly slots: (readonly [SlotValue])[];
  private readonly reuse: StandardRecord | undefined;
  /** The only cells that can be non-empty after `assemble` (fields and record-rule targets). */
  private readonly touched: Int32Array;
  /** The same cells in ascending order (the order the final cell checks report in). */
  private readonly finalCells: Int32Array;
  private readonly findings = new Map<number, FindingState>();
  /** Per single-column field: its outcomes by source bytes (field-memo.ts), for fast-path rows. */
  private readonly memos: (FieldMemo | undefined)[];
  /** The encoding the memos' keys were read in (true = UTF-8), fixed by the first fast-path row. */
  private memoUtf8: boolean | undefined;
  private readonly outcome: FieldOutcome = {
    value: "",
    original: "",
    finding: undefined,
    numberReinterpreted: false,
    rejected: false,
  };

  constructor(
    plan: RecordRulePlan,
    fields: readonly BoundField[],
    reuse: boolean,
    /** Sizes of the per-field memos (tests make them small); `false` for none. */
    memoLimits?: FieldMemoLimits | false,
  ) {
    this.plan = plan;
    this.memos = fields.map((f) =>
      memoLimits === false || f.constant !== undefined || f.columns?.length !== 1
        ? undefined
        : new FieldMemo(memoLimits),
    );
    this.fields = fields;
    this.slots = fields.map((f) => [
      {
        text: f.constant ?? "",
        row: 0,
        column: f.constant !== undefined ? "(定数)" : (f.columns?.[0]?.name ?? ""),
      },
    ]);
    this.reuse = reuse ? emptyRecord(plan.dictionary) : undefined;
    this.touched = Int32Array.from(new Set([...fields.map((f) => f.rule.index), ...recordRuleTargets(plan)]));
    this.finalCells = Int32Array.from(this.touched).sort();
  }

  assemble(row: RowView, encoding: OutputEncoding, issues: Issue[]): AssembledRecord {
    let record = this.reuse;
    if (record === undefined) record = emptyRecord(this.plan.dictionary);
    else {
      const { values, originals } = record;
      for (const i of this.touched) {
        values[i] = "";
        originals[i] = "";
      }
    }
    const findings = this.findings;
    findings.clear();
    const missing = this.plan.checked.missingValues;
    const line = row.line;
    let rejected = false;
    const fields = this.fields;
    for (let k = 0; k < fields.length; k++) {
      const f = fields[k] as BoundField;
      let raws: readonly RawValue[];
      const columns = f.columns;
      if (f.constant !== undefined) {
        raws = this.slots[k] as readonly [SlotValue];
        (raws[0] as SlotValue).row = line;
      } else if (columns === undefined) {
        continue;
      } else if (columns.length === 1) {
        const index = (columns[0] as { index: number }).index;
        const memo = this.memos[k];
        if (memo?.enabled === true && row instanceof ByteRow && this.memoFits(row)) {
          // The field's bytes in the row buffer: a value seen before costs a look-up, no string.
          if (index >= row.width) continue;
          const s = row.starts[index] ?? 0;
          const e = row.ends[index] ?? 0;
          if (s === e) continue;
          if (e - s <= MAX_KEY) {
            const rule = f.rule;
            const entry = memo.find(row.buf, s, e);
            if (entry >= 0 && memo.lastPlain) {
              record.values[rule.index] = memo.values[entry] as string;
              record.originals[rule.index] = memo.originals[entry] as string;
            } else if (entry >= 0) {
              const hit = memo.outcome(entry);
              if (hit.issues.length > 0) issuesForRow(hit, line, issues);
              if (hit.rejected) rejected = true;
              record.values[rule.index] = hit.value;
              record.originals[rule.index] = hit.original;
              if (hit.finding !== undefined) findings.set(rule.index, hit.finding);
            } else {
              const first = issues.length;
              const slot = this.slots[k] as readonly [SlotValue];
              slot[0].text = row.field(index) as string;
              slot[0].row = line;
              const outcome = convertField(rule, slot, missing, issues, this.outcome);
              memo.remember({
                value: outcome.value,
                original: outcome.original,
                finding: outcome.finding,
                rejected: outcome.rejected,
                issues: issues.slice(first),
              });
              if (outcome.rejected) rejected = true;
              record.values[rule.index] = outcome.value;
              record.originals[rule.index] = outcome.original;
              if (outcome.finding !== undefined) findings.set(rule.index, outcome.finding);
            }
            continue;
          }
        }
        const text = row.field(index);
        if (text === undefined || text === "") continue;
        const slot = this.slots[k] as readonly [SlotValue];
        slot[0].text = text;
        slot[0].row = line;
        raws = slot;
      } else {
        const several: RawValue[] = [];
        for (const c of columns) {
          const text = row.field(c.index);
          if (text !== undefined && text !== "") several.push({ text, row: line, column: c.name });
        }
        if (several.length === 0) continue;
        raws = several;
      }
      const rule = f.rule;
      const outcome = convertField(rule, raws, missing, issues, this.outcome);
      if (outcome.rejected) rejected = true;
      record.values[rule.index] = outcome.value;
      record.originals[rule.index] = outcome.original;
      if (outcome.finding !== undefined) findings.set(rule.index, outcome.finding);
    }
    if (applyRecordRules(this.plan, record, findings, line, encoding, issues, this.finalCells))
      rejected = true;
    return { record, rejected };
  }

  /** True when the memos' keys (bytes) mean the same text in this row as in the rows they came from. */
  private memoFits(row: ByteRow): boolean {
    if (this.memoUtf8 === undefined) this.memoUtf8 = row.utf8;
    return this.memoUtf8 === row.utf8;
  }
}
