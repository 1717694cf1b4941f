/**
 * Duplicate record keys across the cut of a parallel conversion (parallel-convert.ts): each half finds
 * the duplicates within itself (duplicate-keys.ts, error mode); the second half cannot see the first
 * half's keys, so it also records, for every key it wrote first, where that record went (its number,
 * its output bytes, where its issues end), and which of its RECORD_DUPLICATE_KEY issues name that line.
 * Joining the halves then does what one sequential run does:
 *
 * - a record of the second half whose key the first half wrote is rejected: its bytes and its hash are
 *   left out, the counts move it from used to rejected, and a RECORD_DUPLICATE_KEY issue naming the
 *   first half's line goes where the sequential run puts it (right after that row's own issues);
 * - later duplicates of that key in the second half name the first half's line, not the second's.
 *
 * Only error mode (the default) is joined; `duplicates: merge` holds every record to the end and is
 * converted sequentially.
 */
import { duplicateKeyMessage } from "./duplicate-keys.js";
import type { IssueLog } from "./issue-log.js";
import type { Issue } from "./issues.js";
import { KeyTable, type KeyTableData } from "./key-table.js";

/** What one half posts back for the join. */
export interface KeyJoinPart {
  readonly table: KeyTableData;
  /** Per table entry: the number of the record written for it (in the half's output order). */
  readonly ordinal: Int32Array;
  /** Per table entry: that record's offset in the half's output and its length with CRLF. */
  readonly offset: Float64Array;
  readonly length: Int32Array;
  /** Per table entry: the half's issue count just after that record (where a new issue would go). */
  readonly issueAt: Float64Array;
  /** Pairs (entry, index in the half's kept issues) of RECORD_DUPLICATE_KEY issues naming the entry. */
  readonly duplicates: Int32Array;
}

/** Collects a half's KeyJoinPart as the engine runs (entries arrive in table order). */
export class KeyJoinRecorder {
  private ordinal = new Int32Array(1024);
  private offset = new Float64Array(1024);
  private length = new Int32Array(1024);
  private issueAt = new Float64Array(1024);
  private n = 0;
  private dups = new Int32Array(256);
  private d = 0;

  /** The record for table entry `entry` (just added) was written. */
  written(entry: number, ordinal: number, offset: number, length: number, issueAt: number): void {
    if (entry !== this.n) throw new Error("key join: entries out of order");
    if (this.n === this.ordinal.length) {
      this.ordinal = grow(this.ordinal, new Int32Array(this.n * 2));
      this.offset = grow(this.offset, new Float64Array(this.n * 2));
      this.length = grow(this.length, new Int32Array(this.n * 2));
      this.issueAt = grow(this.issueAt, new Float64Array(this.n * 2));
    }
    this.ordinal[this.n] = ordinal;
    this.offset[this.n] = offset;
    this.length[this.n] = length;
    this.issueAt[this.n] = issueAt;
    this.n++;
  }

  /** A record duplicating entry `entry` was rejected; its issue is the last one `log` took. */
  duplicate(entry: number, log: IssueLog): void {
    if (log.kept.length !== log.total) return; // the issue was not kept: nothing to rename
    if (this.d + 2 > this.dups.length) this.dups = grow(this.dups, new Int32Array(this.dups.length * 2));
    this.dups[this.d++] = entry;
    this.dups[this.d++] = log.kept.length - 1;
  }

  part(table: KeyTable): KeyJoinPart {
    return {
      table: table.data(),
      ordinal: this.ordinal.slice(0, this.n),
      offset: this.offset.slice(0, this.n),
      length: this.length.slice(0, this.n),
      issueAt: this.issueAt.slice(0, this.n),
      duplicates: this.dups.slice(0, this.d),
    };
  }
}

function grow<T extends Int32Array | Float64Array>(from: T, into: T): T {
  into.set(from);
  return into;
}

/** How the second half changes when joined to the first. */
export interface KeyJoin {
  /** Output byte spans of the second half to leave out: (offset, length) pairs, in file order. */
  readonly spans: readonly number[];
  /** Numbers of the second half's records to leave out (their hashes), ascending. */
  readonly ordinals: readonly number[];
  /** The second half's kept issues with the join's issues inserted and messages renamed. */
  readonly issues: Issue[];
  /** Records rejected by the join (= RECORD_DUPLICATE_KEY issues added). */
  readonly rejected: number;
}

/** Joins the second half (`b`, with its kept issues) to the first (`a`). */
export function joinKeys(a: KeyJoinPart, b: KeyJoinPart, bIssues: readonly Issue[]): KeyJoin {
  const first = new KeyTable(a.table);
  const second = new KeyTable(b.table);
  const spans: number[] = [];
  const ordinals: number[] = [];
  /** Per entry of b found in a: the line in a (else 0). */
  const firstLine = new Int32Array(second.size);
  const inserts: { at: number; issue: Issue }[] = [];
  for (let e = 0; e < second.size; e++) {
    const inA = second.findIn(first, e);
    if (inA < 0) continue;
    const line = first.lineOf(inA);
    firstLine[e] = line;
    spans.push(b.offset[e] ?? 0, b.length[e] ?? 0);
    ordinals.push(b.ordinal[e] ?? 0);
    inserts.push({
      at: b.issueAt[e] ?? 0,
      issue: {
        severity: "error",
        code: "RECORD_DUPLICATE_KEY",
        row: second.lineOf(e),
        message: duplicateKeyMessage(line),
      },
    });
  }
  const renamed = bIssues.slice();
  for (let k = 0; k + 1 < b.duplicates.length; k += 2) {
    const line = firstLine[b.duplicates[k] ?? 0] ?? 0;
    const at = b.duplicates[k + 1] ?? 0;
    const issue = renamed[at];
    if (line > 0 && issue) renamed[at] = { ...issue, message: duplicateKeyMessage(line) };
  }
  // Insert in position order; positions past the kept issues were not kept by one run either.
  const issues: Issue[] = [];
  let next = 0;
  for (const { at, issue } of inserts) {
    if (at > renamed.length) break;
    while (next < at) issues.push(renamed[next++] as Issue);
    issues.push(issue);
  }
  while (next < renamed.length) issues.push(renamed[next++] as Issue);
  return { spans, ordinals, issues, rejected: inserts.length };
}
