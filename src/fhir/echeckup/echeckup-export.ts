/**
 * A standard CSV (one sent transfer) → NDJSON of eCheckup Bundles, one line per examinee record.
 * Records that cannot become a valid Bundle (no 実施日, an institution number outside the IG's
 * identifier pattern) are counted and listed by record number with the reason, never silently left out.
 */
import { randomUUID } from "node:crypto";
import type { Dictionary } from "../../format/dictionary.js";
import { recordToBundle } from "./echeckup-bundle.js";
import { checkEcheckupBundle } from "./ig-rules.js";
import { readStandardRecords } from "./standard-records.js";

export interface EcheckupExport {
  readonly ndjson: string;
  readonly bundles: number;
  readonly skipped: readonly { readonly record: number; readonly reason: string }[];
}

export function standardCsvToEcheckup(
  bytes: Uint8Array,
  dictionary: Dictionary,
  options: { readonly now?: Date; readonly uuid?: () => string; readonly institutionName?: string } = {},
): EcheckupExport {
  const ctx = {
    dictionary,
    now: options.now ?? new Date(),
    uuid: options.uuid ?? randomUUID,
    institutionName: options.institutionName,
  };
  const lines: string[] = [];
  const skipped: { record: number; reason: string }[] = [];
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
  }
  return { ndjson: lines.length > 0 ? `${lines.join("\n")}\n` : "", bundles: lines.length, skipped };
}
