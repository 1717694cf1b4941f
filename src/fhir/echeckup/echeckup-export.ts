/**
 * A standard CSV (one sent transfer) → NDJSON of eCheckup Bundles, one line per examinee record.
 * Records that cannot become a valid Bundle (no 実施日, an institution number outside the IG's
 * identifier pattern) are counted and listed by record number with the reason, and filled items that no
 * Bundle can carry (no item code) or that the reader is not cleared for (restricted findings,
 * sensitive-findings.ts) are summed up per item, never silently left out: the service hands
 * both lists to the receiver with the download (`summaryHeader`).
 */
import { randomUUID } from "node:crypto";
import type { Dictionary } from "../../format/dictionary.js";
import { recordToBundle, type OmittedItem, type ReferenceRangeInput } from "./echeckup-bundle.js";
import type { Confidentiality } from "../security-labels.js";
import { checkEcheckupBundle } from "./ig-rules.js";
import { readStandardRecords } from "./standard-records.js";

export interface OmittedItemCount {
  readonly key: string;
  readonly name: string;
  readonly reason: OmittedItem["reason"];
  /** In how many of the written Bundles' records the item was filled. */
  readonly records: number;
}

export interface EcheckupExport {
  readonly ndjson: string;
  readonly bundles: number;
  readonly skipped: readonly { readonly record: number; readonly reason: string }[];
  /** Filled items not in any Bundle, in dictionary order. */
  readonly omittedItems: readonly OmittedItemCount[];
}

export function standardCsvToEcheckup(
  bytes: Uint8Array,
  dictionary: Dictionary,
  options: {
    readonly now?: Date;
    readonly uuid?: () => string;
    readonly institutionName?: string;
    /** The institution's 基準値 by item key (the mapping's `referenceRanges`). */
    readonly referenceRanges?: Readonly<Record<string, ReferenceRangeInput>>;
    /** The reader's clearance (Z4): restricted findings above it are withheld and listed. Default R. */
    readonly clearance?: Confidentiality;
  } = {},
): EcheckupExport {
  const ctx = {
    dictionary,
    now: options.now ?? new Date(),
    uuid: options.uuid ?? randomUUID,
    institutionName: options.institutionName,
    referenceRanges: options.referenceRanges,
    clearance: options.clearance,
  };
  const lines: string[] = [];
  const skipped: { record: number; reason: string }[] = [];
  const omitted = new Map<string, { reason: OmittedItem["reason"]; records: number }>();
  for (const record of readStandardRecords(bytes, dictionary)) {
    const outcome = recordToBundle(record, ctx);
    if (!outcome.ok) {
      skipped.push({ record: record.index, reason: outcome.reason });
      continue;
    }
    // Our own output must meet the IG rules we implement; a breach is a bug, reported per record.
    const problems = checkEcheckupBundle(outcome.bundle);
    if (problems.length > 0) {
      skipped.push({
        record: record.index,
        reason: `IG の規則に合いません: ${problems.slice(0, 3).join("; ")}`,
      });
      continue;
    }
    lines.push(JSON.stringify(outcome.bundle));
    for (const o of outcome.omitted) {
      const seen = omitted.get(o.key);
      omitted.set(o.key, { reason: o.reason, records: (seen?.records ?? 0) + 1 });
    }
  }
  const omittedItems = dictionary.items.flatMap((item) => {
    const o = omitted.get(item.key);
    return o === undefined ? [] : [{ key: item.key, name: item.name, reason: o.reason, records: o.records }];
  });
  return {
    ndjson: lines.length > 0 ? `${lines.join("\n")}\n` : "",
    bundles: lines.length,
    skipped,
    omittedItems,
  };
}

/**
 * The export's summary as one HTTP header value (ASCII JSON: item keys, counts and record numbers —
 * no values, nothing personal), so that the receiver learns what the Bundles do not carry.
 */
export function summaryHeader(out: EcheckupExport): string {
  return JSON.stringify({
    bundles: out.bundles,
    skippedRecords: out.skipped.map((s) => s.record),
    omittedItems: out.omittedItems.map((o) => ({ key: o.key, reason: o.reason, records: o.records })),
  });
}
