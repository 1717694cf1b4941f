/**
 * The output side of a conversion run: a finished record is rejected, held for merging or checked
 * against the keys already written (duplicate-keys.ts), then written into the output buffer
 * (record-writer.ts) and hashed; the buffer goes to the sink about every 1 MB and into the output hash.
 * A range run of a parallel conversion also records what joining its keys to the other half needs.
 */
import { createHash, hash as oneShotHash, type Hash } from "node:crypto";
import { RecordWriter } from "../format/record-writer.js";
import type { StandardRecord } from "../format/standard-csv.js";
import type { ConvertCounts, ConvertOptions, OutputSink } from "./convert-types.js";
import { DuplicateKeys } from "./duplicate-keys.js";
import type { IssueLog } from "./issue-log.js";
import type { Issue } from "./issues.js";
import { KeyJoinRecorder, type KeyJoinPart } from "./key-join.js";
import type { AssembledRecord } from "./record-assembly.js";
import { RecordDigests } from "./record-digests.js";
import type { RecordRulePlan } from "./record-rules.js";

const FLUSH_BYTES = 1 << 20;

export class RecordOutput {
  readonly outputHash: Hash | undefined;
  readonly digests = new RecordDigests();
  outputBytes = 0;

  private readonly counts: ConvertCounts;
  private readonly log: IssueLog;
  private readonly writer: RecordWriter;
  private readonly duplicates: DuplicateKeys;
  /** A range run in error mode: records what joining the halves needs (key-join.ts). */
  private readonly join: KeyJoinRecorder | undefined;
  private readonly scratch: Issue[] = [];
  /** Where the last record emitted went: its number, output offset and length with CRLF. */
  private lastOrdinal = 0;
  private lastOffset = 0;
  private lastLength = 0;

  constructor(options: ConvertOptions, plan: RecordRulePlan, counts: ConvertCounts, log: IssueLog) {
    this.counts = counts;
    this.log = log;
    // A range of a parallel run is not hashed: the joined output is hashed whole by the caller.
    this.outputHash = options.range === undefined ? createHash("sha256") : undefined;
    this.writer = new RecordWriter(options.encoding);
    this.duplicates = new DuplicateKeys(plan, options.checked.mapping.duplicates);
    this.join =
      options.range !== undefined && options.checked.mapping.duplicates === "error"
        ? new KeyJoinRecorder()
        : undefined;
  }

  /** Appends bytes as they are (the header row). */
  push(bytes: Buffer): void {
    this.writer.writeRaw(bytes);
  }

  /** Hands the buffered output to the sink once it holds ~1 MB (or whatever is left, when final). */
  async flush(sink: OutputSink, final: boolean): Promise<void> {
    const pending = this.writer.length;
    if (pending === 0 || (!final && pending < FLUSH_BYTES)) return;
    // A sink that releases its chunks gets the same memory again next time (awaited before more is written).
    const chunk = this.writer.take(sink.releasesChunks === true);
    this.outputHash?.update(chunk);
    this.outputBytes += chunk.length;
    await sink.write(chunk);
  }

  /** A record assembled (its issues logged): rejected, held, or written. */
  finish({ record, rejected }: AssembledRecord, line: number, rows: number): void {
    if (rejected) {
      this.counts.rowsRejected += rows;
      this.counts.recordsRejected++;
      return;
    }
    const issues = this.scratch;
    issues.length = 0;
    const held = this.duplicates.offer({ record, line, rows }, issues);
    this.log.addAll(issues);
    if (held === "duplicate") {
      this.join?.duplicate(this.duplicates.lastEntry, this.log);
      this.counts.rowsRejected += rows;
      this.counts.recordsRejected++;
      return;
    }
    if (held === "held") return;
    this.emit({ record, line, rows, rejected: false });
    const entry = this.duplicates.lastEntry;
    if (this.join && entry >= 0)
      this.join.written(entry, this.lastOrdinal, this.lastOffset, this.lastLength, this.log.total);
  }

  /** End of input: the records merge mode held are written. */
  end(): void {
    const issues: Issue[] = [];
    for (const merged of this.duplicates.drain(issues)) {
      this.log.addAll(issues);
      issues.length = 0;
      this.emit(merged);
    }
  }

  /** The range run's join data (after `end`). */
  get keyJoin(): KeyJoinPart | undefined {
    return this.join?.part(this.duplicates.table);
  }

  /** Writes one finished record (or counts it rejected when merging found a conflict). */
  private emit(r: { record: StandardRecord; line: number; rows: number; rejected: boolean }): void {
    if (r.rejected) {
      this.counts.rowsRejected += r.rows;
      this.counts.recordsRejected++;
      return;
    }
    const span = this.writer.writeRecord(r.record);
    this.lastOrdinal = this.digests.length;
    this.lastOffset = this.outputBytes + span.start;
    this.lastLength = span.end - span.start + 2;
    this.digests.pushLatin1(oneShotHash("sha256", this.writer.view(span.start, span.end), "binary"));
    this.counts.rowsUsed += r.rows;
    this.counts.recordsOut++;
  }
}
