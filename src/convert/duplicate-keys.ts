/**
 * One record per examinee per visit (1受診者1履歴1レコード): the same 受診者番号 + 実施日 twice in one
 * export is never passed on silently.
 *
 * - `error` (default): the first record is written; every later one with the same key is rejected
 *   (RECORD_DUPLICATE_KEY, naming the line of the first). Memory: the key's bytes and a line number per
 *   record in a KeyTable (≈ 36 bytes for keys like K00000001 + 20250101; 10⁶ records ≈ 36 MB). A parallel run joins its two halves'
 *   tables afterwards (key-join.ts).
 * - `merge`: records with the same key are combined into one, written at the end of the file in
 *   first-seen order: each empty field is filled from the other records; two different values for one
 *   item reject the merged record (RECORD_DUPLICATE_CONFLICT, once per item). Memory: every record
 *   until the end of the file.
 */
import { createHash } from "node:crypto";
import type { StandardRecord } from "../format/standard-csv.js";
import type { Issue } from "./issues.js";
import { KeyTable } from "./key-table.js";
import type { RecordRulePlan } from "./record-rules.js";

export interface HeldRecord {
  record: StandardRecord;
  line: number;
  rows: number;
}

export interface MergedRecord extends HeldRecord {
  rejected: boolean;
}

const SEPARATOR = "\u001f";

/** The RECORD_DUPLICATE_KEY message for a record whose key was first seen on line `first`. */
export function duplicateKeyMessage(first: number): string {
  return `受診者番号と実施日が ${first} 行目の記録と同じです (1受診者1受診1レコード。まとめるにはマッピングに duplicates: merge を指定してください)`;
}

export class DuplicateKeys {
  private readonly plan: RecordRulePlan;
  private readonly mode: "error" | "merge";
  /** Error mode: every key written so far. */
  readonly table = new KeyTable();
  /**
   * Error mode, after `offer`: the table entry the record's key was added as ("write") or found as
   * ("duplicate"); -1 when the record had no key.
   */
  lastEntry = -1;
  private readonly held = new Map<string, MergedRecord & { conflicts: Set<number>; lines: number[] }>();

  constructor(plan: RecordRulePlan, mode: "error" | "merge") {
    this.plan = plan;
    this.mode = mode;
  }

  /**
   * Offers a finished record. "write": write it now; "duplicate": reject it (an issue was added);
   * "held": merge mode keeps it until `drain`.
   */
  offer(r: HeldRecord, issues: Issue[]): "write" | "duplicate" | "held" {
    if (this.mode === "error") {
      this.lastEntry = -1;
      if (!this.table.stage(r.record.values, this.plan.keyIndices)) return "write";
      const found = this.table.findStaged();
      if (found < 0) {
        this.lastEntry = this.table.addStaged(r.line);
        return "write";
      }
      this.lastEntry = found;
      issues.push({
        severity: "error",
        code: "RECORD_DUPLICATE_KEY",
        row: r.line,
        message: duplicateKeyMessage(this.table.lineOf(found)),
      });
      return "duplicate";
    }
    const key = this.keyOf(r.record);
    if (key === undefined) return "write";
    const earlier = this.held.get(key);
    if (earlier === undefined) {
      this.held.set(key, { ...r, rejected: false, conflicts: new Set(), lines: [] });
      return "held";
    }
    earlier.rows += r.rows;
    earlier.lines.push(r.line);
    const { values, originals } = earlier.record;
    for (let i = 0; i < values.length; i++) {
      const v = r.record.values[i] ?? "";
      if (v === "") continue;
      if (values[i] === "") {
        values[i] = v;
        originals[i] = r.record.originals[i] ?? "";
      } else if (values[i] !== v) {
        earlier.conflicts.add(i);
      }
    }
    return "held";
  }

  /** Merge mode: the combined records in first-seen order; conflicts are added to `issues`. */
  *drain(issues: Issue[]): Iterable<MergedRecord> {
    const items = this.plan.dictionary.items;
    for (const m of this.held.values()) {
      for (const i of m.conflicts) {
        const item = items[i];
        issues.push({
          severity: "error",
          code: "RECORD_DUPLICATE_CONFLICT",
          row: m.line,
          ...(item ? { item: item.key } : {}),
          message: `同じ受診者・実施日の記録 (${[m.line, ...m.lines].join("・")} 行目) で${item?.name ?? ""}の値が違うため、まとめられません`,
        });
      }
      m.rejected = m.conflicts.size > 0;
      yield m;
    }
    this.held.clear();
  }

  /**
   * The record's key as a SHA-256 digest: a short string of its own. (The values themselves may be
   * slices of the decoded input; keeping them would keep whole input chunks alive for the run.)
   */
  private keyOf(record: StandardRecord): string | undefined {
    const h = createHash("sha256");
    let parts = 0;
    for (const i of this.plan.keyIndices) {
      const part = record.values[i] ?? "";
      if (part === "") return undefined;
      if (parts++ > 0) h.update(SEPARATOR);
      h.update(part);
    }
    return parts === 0 ? undefined : h.digest("base64");
  }
}
