/**
 * What a clerk needs to read a conversion's issues: for each item an issue names, its Japanese name in
 * the standard dictionary and the source column(s) the institution's mapping reads it from — so a
 * 「受診日がありません」 row points at the 受診日 column of the clerk's own export instead of an internal
 * key. Names and column headings only; never a row value.
 */
import { parseMapping } from "../../convert/mapping.js";
import type { ServiceContext } from "../context.js";
import type { ConversionReference } from "../mappings/mappings.js";

export interface ItemLabel {
  /** The item's name in the standard (e.g. 「受診日」). */
  readonly name: string;
  /** The source columns the mapping reads it from (empty for constants and computed items). */
  readonly columns: readonly string[];
}

/** Labels of the items in `itemKeys`, read from the mapping the transfer was converted with. */
export function issueItemLabels(
  ctx: ServiceContext,
  reference: ConversionReference,
  mappingId: string | null,
  itemKeys: readonly string[],
): Record<string, ItemLabel> {
  const columns = new Map<string, string[]>();
  const body =
    mappingId === null
      ? undefined
      : ctx.db.prepare<[string], { body: string }>("SELECT body FROM mappings WHERE id = ?").get(mappingId)
          ?.body;
  if (body !== undefined) {
    try {
      for (const f of parseMapping(body, "mapping").fields) {
        const cols = f.column !== undefined ? [f.column] : (f.columns ?? []);
        columns.set(f.item, [...(columns.get(f.item) ?? []), ...cols]);
      }
    } catch {
      // A stored mapping was checked when it was registered; if it no longer parses (a newer
      // schema), the names from the dictionary are still worth showing.
    }
  }
  const labels: Record<string, ItemLabel> = {};
  for (const key of new Set(itemKeys)) {
    const item = reference.dictionary.item(key);
    if (item === undefined) continue;
    labels[key] = { name: item.name, columns: columns.get(key) ?? [] };
  }
  return labels;
}
