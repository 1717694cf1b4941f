/**
 * Collects issues for a run: keeps the first `limit` in full (a broken 1 GB export must not exhaust
 * memory with millions of issues) and counts all of them by code and severity.
 */
import type { Issue, IssueCode } from "./issues.js";

export interface IssueCount {
  error: number;
  warning: number;
  info: number;
}

export class IssueLog {
  readonly limit: number;
  readonly kept: Issue[] = [];
  readonly counts = new Map<IssueCode, IssueCount>();
  total = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  add(issue: Issue): void {
    this.total++;
    if (this.kept.length < this.limit) this.kept.push(issue);
    let c = this.counts.get(issue.code);
    if (!c) {
      c = { error: 0, warning: 0, info: 0 };
      this.counts.set(issue.code, c);
    }
    c[issue.severity]++;
  }

  addAll(issues: readonly Issue[]): void {
    for (const i of issues) this.add(i);
  }

  get truncated(): boolean {
    return this.total > this.kept.length;
  }
}
