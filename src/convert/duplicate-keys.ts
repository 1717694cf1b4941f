/**
 * One record per examinee per visit (1受診者1履歴1レコード): the same 受診者番号 + 実施日 twice in one
 * export is never passed on silently.
 *
 * - `error` (default): the first record is written; every later one with the same key is rejected
 *   (RECORD_DUPLICATE_KEY, naming the line of the first). Memory: one 44-character digest and a line
 *   number per record (≈ 100 bytes; 10⁶ records ≈ 100 MB).
 * - `merge`: records with the same key are combined into one, written at the end of the file in
 *   first-seen order: each empty field is filled from the other records; two different values for one
 *   item reject the merged record (RECORD_DUPLICATE_CONFLICT, once per item). Memory: every record
 *   until the end of the file.
 */
import { createHash } from "node:crypto";
import type { StandardRecord } from "../format/standard-csv.js";
import type { Issue } from "./issues.js";
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

export class DuplicateKeys {
  private readonly plan: RecordRulePlan;
  private readonly mode: "error" | "merge";
  private readonly firstLine = new Map<string, number>();
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
    const key = this.keyOf(r.record);
    if (key === undefined) return "write";
    if (this.mode === "error") {
      const first = this.firstLine.get(key);
      if (first === undefined) {
        this.firstLine.set(key, r.line);
        return "write";
      }
      issues.push({
        severity: "error",
        code: "RECORD_DUPLICATE_KEY",
        row: r.line,
        message: `受診者番号と実施日が ${first} 行目の記録と同じです (1受診者1受診1レコード。まとめるにはマッピングに duplicates: merge を指定してください)`,
      });
      return "duplicate";
    }
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
