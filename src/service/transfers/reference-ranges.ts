/**
 * The institution's reference ranges (基準値) for a transfer's FHIR rendering: the `referenceRanges` of
 * the mapping version that converted it (the standard CSV has no place for them). A transfer without a
 * recorded mapping version, or whose version is gone, has none.
 */
import { parseMapping } from "../../convert/mapping.js";
import type { ReferenceRangeInput } from "../../fhir/echeckup/echeckup-bundle.js";
import type { ServiceContext } from "../context.js";
import { mappingVersionText } from "../mappings/mapping-versions.js";
import type { TransferRow } from "./records.js";

export function transferReferenceRanges(
  ctx: ServiceContext,
  row: TransferRow,
): Readonly<Record<string, ReferenceRangeInput>> {
  if (row.mapping_id === null) return {};
  let body: string;
  try {
    body = mappingVersionText(ctx, row.sender_id, row.mapping_id).body;
  } catch {
    return {};
  }
  return parseMapping(body).referenceRanges;
}
