/**
 * Binds a checked mapping to the columns of one file once its header is known: every column named by
 * the mapping must exist (MAP_UNKNOWN_COLUMN, before any data row is read), and each row's raw values
 * are then picked by position.
 */
import type { RawValue } from "./field-convert.js";
import { resolveColumn, type CheckedMapping, type CompiledRule } from "./mapping-check.js";
import type { RowView } from "./row-view.js";

export interface BoundField {
  readonly rule: CompiledRule;
  /** Column positions with their names, or a constant. */
  readonly columns: readonly { readonly index: number; readonly name: string }[] | undefined;
  readonly constant: string | undefined;
}

export interface BoundLong {
  readonly itemColumn: number;
  readonly valueColumn: number;
  readonly itemColumnName: string;
  readonly valueColumnName: string;
  readonly items: ReadonlyMap<string, CompiledRule>;
  readonly unmapped: "ignore" | "warning";
  /** The visit key of a row, or undefined when one of its parts is empty. */
  visitKeyOf(fields: readonly string[]): string | undefined;
}

export interface BoundColumns {
  /** Number of header columns (undefined without a header). */
  readonly width: number | undefined;
  /** Column positions some rule reads or `source.ignoreColumns` names. */
  readonly usedColumns: ReadonlySet<number>;
  readonly long: BoundLong | undefined;
  /**
   * False for a row whose column count differs from the header's (more columns pass only when the
   * mapping allows trailing empty columns and they are empty).
   */
  fitsWidth(row: RowView): boolean;
  /** The field rules with their columns, in mapping order (what `headerCells` reads). */
  readonly fields: readonly BoundField[];
  /** Raw values of the field rules for one row. */
  headerCells(row: RowView): Map<CompiledRule, RawValue[]>;
}

const KEY_SEPARATOR = "\u001f";

export function bindColumns(checked: CheckedMapping, header: readonly string[] | null): BoundColumns {
  const fields: BoundField[] = checked.fields.map((f) => ({
    rule: f.rule,
    columns:
      f.source.kind === "columns"
        ? f.source.refs.map((ref) => ({ index: resolveColumn(ref, header, f.rule.where), name: ref }))
        : undefined,
    constant: f.source.kind === "constant" ? f.source.value : undefined,
  }));
  const width = header?.length;
  const usedColumns = new Set<number>();
  for (const f of fields) for (const c of f.columns ?? []) usedColumns.add(c.index);
  checked.mapping.source.ignoreColumns.forEach((ref, i) =>
    usedColumns.add(resolveColumn(ref, header, `source.ignoreColumns[${i}]`)),
  );
  const allowTrailing = checked.mapping.source.allowTrailingEmptyColumns;

  let long: BoundLong | undefined;
  if (checked.long) {
    const l = checked.long;
    const keyCols = l.visitKey.map((ref) => resolveColumn(ref, header, "long.visitKey"));
    const itemColumn = resolveColumn(l.itemColumn, header, "long.itemColumn");
    const valueColumn = resolveColumn(l.valueColumn, header, "long.valueColumn");
    for (const c of [...keyCols, itemColumn, valueColumn]) usedColumns.add(c);
    long = {
      itemColumn,
      valueColumn,
      itemColumnName: l.itemColumn,
      valueColumnName: l.valueColumn,
      items: l.items,
      unmapped: l.unmapped,
      visitKeyOf(values) {
        let key = "";
        for (let k = 0; k < keyCols.length; k++) {
          const part = (values[keyCols[k] ?? -1] ?? "").trim();
          if (part === "") return undefined;
          key = k === 0 ? part : key + KEY_SEPARATOR + part;
        }
        return key;
      },
    };
  }

  return {
    width,
    usedColumns,
    long,
    fields,
    fitsWidth(row) {
      if (width === undefined || row.width === width) return true;
      if (row.width < width || !allowTrailing) return false;
      for (let i = width; i < row.width; i++) if ((row.field(i) ?? "").trim() !== "") return false;
      return true;
    },
    headerCells(row) {
      const cells = new Map<CompiledRule, RawValue[]>();
      for (const f of fields) {
        if (f.constant !== undefined) {
          cells.set(f.rule, [{ text: f.constant, row: row.line, column: "(定数)" }]);
        } else if (f.columns) {
          const raws: RawValue[] = [];
          for (const c of f.columns) {
            const text = row.field(c.index);
            if (text !== undefined && text !== "") raws.push({ text, row: row.line, column: c.name });
          }
          if (raws.length > 0) cells.set(f.rule, raws);
        }
      }
      return cells;
    },
  };
}
