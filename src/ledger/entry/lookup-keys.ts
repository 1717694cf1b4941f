/**
 * The index keys an entry is stored under, derived from its record alone (so a replica, a migration or a
 * repair derives the same ones): its transfer, every file hash it names, and the actor's institution
 * (for the audit list an institution's users may read; the service's own entries, institution "-", are
 * read only by the office, which reads them all, so they get no institution key).
 */
import type { OperationRecord, RecordInput } from "./operation-record.js";

/** Index keys of a record. */
export function lookupKeys(record: OperationRecord | RecordInput): string[] {
  const keys: string[] = [];
  if ("transfer" in record) keys.push(`transfer:${record.transfer}`);
  if ("file" in record) keys.push(`sha256:${record.file.sha256}`);
  if (record.type === "conversion")
    keys.push(`sha256:${record.input.sha256}`, `sha256:${record.output.sha256}`);
  if (record.institution !== "-") keys.push(`institution:${record.institution}`);
  return keys;
}
