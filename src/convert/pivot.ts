/**
 * Long exports (縦持ち: one row per visit × test item) pivoted to one record per visit.
 *
 * Unsorted input (the default) is grouped in memory in first-seen order of visits: memory grows with
 * the number of result values (≈ 100 bytes each; a 1M-row export needs roughly 150 MB). When the
 * mapping declares the export sorted by visit, each visit is released as soon as the next begins, so
 * memory stays flat; a visit that reappears later is then reported (RECORD_UNSORTED) instead of being
 * silently split into two records.
 */
import type { SourceRow } from "./csv-tokenizer.js";
import type { RawValue } from "./field-convert.js";
import type { CompiledRule } from "./mapping-check.js";

export interface Visit {
  readonly key: string;
  /** Line of the visit's first row. */
  readonly line: number;
  /** The first row's fields, for the visit's header items (氏名, 生年月日 …). */
  readonly firstRow: readonly string[];
  readonly cells: Map<CompiledRule, RawValue[]>;
  rows: number;
}

export class VisitGrouper {
  private readonly sorted: boolean;
  private readonly visits = new Map<string, Visit>();
  private current: Visit | undefined;
  /** Sorted mode: keys already released, to detect unsorted input. */
  private readonly released = new Set<string>();

  constructor(sorted: boolean) {
    this.sorted = sorted;
  }

  /**
   * Adds one result row. Sorted mode returns the previous visit once a new one begins, or "unsorted"
   * when the row belongs to a visit already released (the row is not added).
   */
  add(key: string, row: SourceRow, rule: CompiledRule, value: RawValue): Visit | "unsorted" | undefined {
    if (this.sorted) {
      let done: Visit | undefined;
      if (this.current?.key !== key) {
        if (this.released.has(key)) return "unsorted";
        done = this.current;
        if (done) this.released.add(done.key);
        this.current = newVisit(key, row);
      }
      push(this.current, rule, value);
      return done;
    }
    let visit = this.visits.get(key);
    if (!visit) {
      visit = newVisit(key, row);
      this.visits.set(key, visit);
    }
    push(visit, rule, value);
    return undefined;
  }

  /** The visits not yet released, in first-seen order. */
  *drain(): Iterable<Visit> {
    if (this.sorted) {
      if (this.current) yield this.current;
      this.current = undefined;
      return;
    }
    for (const v of this.visits.values()) yield v;
    this.visits.clear();
  }
}

function newVisit(key: string, row: SourceRow): Visit {
  return { key, line: row.line, firstRow: row.fields, cells: new Map(), rows: 0 };
}

function push(visit: Visit, rule: CompiledRule, value: RawValue): void {
  visit.rows++;
  const list = visit.cells.get(rule);
  if (list) list.push(value);
  else visit.cells.set(rule, [value]);
}
