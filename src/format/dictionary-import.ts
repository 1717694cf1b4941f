/**
 * Builds an item dictionary from a plain CSV table of items, and writes a dictionary back out as such a
 * table. This is how a licensee turns the official ver5.0 record layout (distributed as a spreadsheet)
 * into a dictionary file the engine loads, without code changes.
 *
 * Table layout (one header row, any column order, UTF-8 with or without BOM, or CP932):
 * 項番,キー,標準名称,分類,型,小数桁,単位,下限,上限,選択肢,最大バイト,複数可,JLAC10,必須区分,備考,選択肢コード,コード体系
 * (選択肢コード and コード体系 are optional columns: older tables without them import as before)
 * 選択肢 and 必須区分 hold several values separated by "|". Every failure is a `FormatError` with code
 * `FORMAT_DICTIONARY_IMPORT_INVALID` whose context names the table row (1-based line) and column.
 */
import iconv from "iconv-lite";
import type { DictionaryFile, DictionaryItem, ItemType } from "./dictionary.js";
import { buildDictionary, dictionaryItemSchema, ITEM_TYPES } from "./dictionary.js";
import { FormatError } from "./errors.js";

/** The table's columns, in the order `exportDictionaryTable` writes them. */
export const TABLE_COLUMNS = [
  "項番",
  "キー",
  "標準名称",
  "分類",
  "型",
  "小数桁",
  "単位",
  "下限",
  "上限",
  "選択肢",
  "最大バイト",
  "複数可",
  "JLAC10",
  "必須区分",
  "備考",
  "選択肢コード",
  "コード体系",
] as const;
type Column = (typeof TABLE_COLUMNS)[number];

const REQUIRED_COLUMNS: readonly Column[] = [
  "項番",
  "キー",
  "標準名称",
  "分類",
  "型",
  "最大バイト",
  "複数可",
];

/** Separator inside the 選択肢 and 必須区分 cells. */
const LIST_SEPARATOR = "|";

const TYPE_NAMES: ReadonlyMap<string, ItemType> = new Map<string, ItemType>([
  ...ITEM_TYPES.map((t): [string, ItemType] => [t, t]),
  ["数値", "number"],
  ["コード", "code"],
  ["文字列", "text"],
  ["日付", "date"],
]);

const FLAG_NAMES: ReadonlyMap<string, boolean> = new Map([
  ["1", true],
  ["true", true],
  ["可", true],
  ["0", false],
  ["false", false],
  ["不可", false],
  ["", false],
]);

/** A table this large is not an item list; refuse it before parsing (the official layout has ~2,000). */
const MAX_TABLE_BYTES = 16 * 1024 * 1024;

export interface ImportOptions {
  /** Dictionary name written into the file. */
  readonly name: string;
  /** Dictionary version (semver) written into the file. */
  readonly version: string;
  /** Table encoding; `auto` (default) takes UTF-8 when the bytes are valid UTF-8, else CP932. */
  readonly encoding?: "auto" | "utf-8" | "cp932";
}

/**
 * Reads a CSV table of items and returns the dictionary file object, already checked with
 * `buildDictionary` (schema, duplicates, 項番 order, per-type consistency).
 */
export function importDictionaryTable(bytes: Uint8Array, options: ImportOptions): DictionaryFile {
  if (bytes.length > MAX_TABLE_BYTES) {
    throw importError(0, undefined, `表が大きすぎます (${bytes.length} バイト、上限 ${MAX_TABLE_BYTES})`);
  }
  const records = readCsv(decodeTable(bytes, options.encoding ?? "auto"));
  const header = records[0];
  if (header === undefined) throw importError(1, undefined, "表が空です (見出し行がありません)");
  const positions = readHeader(header);
  const items: DictionaryItem[] = [];
  const rowOfItem: number[] = [];
  for (const record of records.slice(1)) {
    if (record.cells.every((cell) => cell.trim() === "")) continue;
    items.push(readItem(record, positions));
    rowOfItem.push(record.line);
  }
  const file: DictionaryFile = {
    format: "kenshin-dictionary",
    version: options.version,
    name: options.name,
    items,
  };
  try {
    buildDictionary(file);
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    const index = error.context["index"];
    const row = typeof index === "number" ? (rowOfItem[index] ?? 0) : 0;
    throw importError(row, undefined, error.message, error);
  }
  return file;
}

/**
 * Writes a dictionary as the CSV table `importDictionaryTable` reads (RFC 4180, CRLF, one header row,
 * canonical English type names and 1/0 flags). Importing the result gives back an equal dictionary.
 */
export function exportDictionaryTable(file: { readonly items: readonly DictionaryItem[] }): string {
  const lines = [TABLE_COLUMNS.map(quoteCell).join(",")];
  for (const item of file.items) {
    const cells: Record<Column, string> = {
      項番: String(item.no),
      キー: item.key,
      標準名称: item.name,
      分類: item.category,
      型: item.type,
      小数桁: item.decimals === undefined ? "" : String(item.decimals),
      単位: item.unit ?? "",
      下限: item.range === undefined ? "" : String(item.range.min),
      上限: item.range === undefined ? "" : String(item.range.max),
      選択肢: (item.terms ?? []).join(LIST_SEPARATOR),
      選択肢コード: (item.termCodes?.codes ?? []).join(LIST_SEPARATOR),
      コード体系: item.termCodes?.system ?? "",
      最大バイト: String(item.maxBytes),
      複数可: item.multiple ? "1" : "0",
      JLAC10: item.jlac10 ?? "",
      必須区分: (item.requiredFor ?? []).join(LIST_SEPARATOR),
      備考: item.note ?? "",
    };
    lines.push(TABLE_COLUMNS.map((column) => quoteCell(cells[column])).join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}

function decodeTable(bytes: Uint8Array, encoding: "auto" | "utf-8" | "cp932"): string {
  const hasBom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  if (encoding === "cp932") return iconv.decode(Buffer.from(bytes), "cp932");
  const body = hasBom ? bytes.subarray(3) : bytes;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch (cause) {
    if (encoding === "utf-8" || hasBom) {
      throw importError(0, undefined, "表が UTF-8 として読めません (CP932 なら encoding を指定)", cause);
    }
    // Spreadsheets on Japanese Windows save CSV as CP932; invalid UTF-8 is the reliable sign of it.
    return iconv.decode(Buffer.from(bytes), "cp932");
  }
}

interface CsvRecord {
  /** 1-based line where the record starts (a quoted cell may span lines). */
  readonly line: number;
  readonly cells: string[];
}

/** RFC 4180 reader (https://www.rfc-editor.org/rfc/rfc4180#section-2), also accepting bare LF. */
function readCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let cells: string[] = [];
  let cell = "";
  let line = 1;
  let recordLine = 1;
  let quoted = false;
  let afterQuote = false;
  const endCell = (): void => {
    cells.push(cell);
    cell = "";
    afterQuote = false;
  };
  const endRecord = (): void => {
    endCell();
    records.push({ line: recordLine, cells });
    cells = [];
    recordLine = line;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text.charAt(i);
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
        afterQuote = true;
      } else {
        if (ch === "\n") line++;
        cell += ch;
      }
    } else if (ch === ",") {
      endCell();
    } else if (ch === "\r" || ch === "\n") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      line++;
      endRecord();
    } else if (ch === '"' && cell === "" && !afterQuote) {
      quoted = true;
    } else if (afterQuote || ch === '"') {
      throw importError(line, undefined, '引用符 (") の使い方が RFC 4180 に合いません');
    } else {
      cell += ch;
    }
  }
  if (quoted) throw importError(recordLine, undefined, '閉じられていない引用符 (") があります');
  if (cell !== "" || cells.length > 0 || afterQuote) endRecord();
  return records;
}

function readHeader(header: CsvRecord): Map<Column, number> {
  const positions = new Map<Column, number>();
  header.cells.forEach((raw, index) => {
    const name = raw.normalize("NFKC").trim();
    const column = TABLE_COLUMNS.find((c) => c === name);
    if (column === undefined) {
      throw importError(header.line, raw, `見出し「${raw}」は表の列名ではありません`);
    }
    if (positions.has(column)) throw importError(header.line, raw, `見出し「${raw}」が2回あります`);
    positions.set(column, index);
  });
  for (const column of REQUIRED_COLUMNS) {
    if (!positions.has(column)) throw importError(header.line, column, `列「${column}」がありません`);
  }
  return positions;
}

function readItem(record: CsvRecord, positions: Map<Column, number>): DictionaryItem {
  if (
    record.cells.length > positions.size &&
    record.cells.slice(positions.size).some((c) => c.trim() !== "")
  ) {
    throw importError(record.line, undefined, "見出しより多くの値がある行です");
  }
  const cell = (column: Column): string => {
    const index = positions.get(column);
    return index === undefined ? "" : (record.cells[index] ?? "").trim();
  };
  const fail = (column: Column, what: string): never => {
    throw importError(record.line, column, what);
  };
  const integer = (column: Column): number | undefined => {
    const text = cell(column).normalize("NFKC");
    if (text === "") return undefined;
    if (!/^\d{1,9}$/.test(text)) return fail(column, `整数ではありません (${text})`);
    return Number(text);
  };
  const decimal = (column: Column): number | undefined => {
    const text = cell(column).normalize("NFKC");
    if (text === "") return undefined;
    if (!/^[-+]?\d{1,15}(?:\.\d{1,15})?$/.test(text)) return fail(column, `数値ではありません (${text})`);
    return Number(text);
  };
  const list = (column: Column): string[] | undefined => {
    const text = cell(column);
    if (text === "") return undefined;
    const parts = text.split(LIST_SEPARATOR).map((p) => p.trim());
    if (parts.some((p) => p === "")) fail(column, `「${LIST_SEPARATOR}」で区切った値に空のものがあります`);
    return parts;
  };
  const optional = (column: Column): string | undefined => cell(column) || undefined;

  const typeName = cell("型").normalize("NFKC").toLowerCase();
  const type =
    TYPE_NAMES.get(typeName) ??
    fail("型", `型「${typeName}」は number/code/text/date か 数値/コード/文字列/日付 で指定します`);
  const flag = FLAG_NAMES.get(cell("複数可").normalize("NFKC").toLowerCase());
  const multiple = flag ?? fail("複数可", "1/0/true/false/可/不可 のいずれかで指定します");
  const min = decimal("下限");
  const max = decimal("上限");
  if ((min === undefined) !== (max === undefined))
    fail(min === undefined ? "下限" : "上限", "下限と上限は両方指定します");

  const termCodeList = list("選択肢コード");
  const codeSystem = optional("コード体系");
  if ((termCodeList === undefined) !== (codeSystem === undefined)) {
    fail(
      codeSystem === undefined ? "コード体系" : "選択肢コード",
      "選択肢コードとコード体系は両方指定します",
    );
  }
  const candidate: Record<string, unknown> = {
    no: integer("項番") ?? fail("項番", "値がありません"),
    key: cell("キー"),
    name: cell("標準名称"),
    category: cell("分類"),
    type,
    decimals: integer("小数桁"),
    unit: optional("単位"),
    range: min === undefined || max === undefined ? undefined : { min, max },
    terms: list("選択肢"),
    termCodes:
      termCodeList === undefined || codeSystem === undefined
        ? undefined
        : { system: codeSystem, codes: termCodeList },
    maxBytes: integer("最大バイト") ?? fail("最大バイト", "値がありません"),
    multiple,
    jlac10: optional("JLAC10")?.normalize("NFKC"),
    requiredFor: list("必須区分"),
    note: optional("備考"),
  };
  // exactOptionalPropertyTypes: absent means absent, not `undefined`.
  for (const [k, v] of Object.entries(candidate)) if (v === undefined) Reflect.deleteProperty(candidate, k);

  const parsed = dictionaryItemSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = typeof issue?.path[0] === "string" ? issue.path[0] : "";
    return fail(COLUMN_OF_FIELD[field] ?? "キー", issue?.message ?? "不正な値です");
  }
  return parsed.data;
}

const COLUMN_OF_FIELD: Readonly<Record<string, Column>> = {
  no: "項番",
  key: "キー",
  name: "標準名称",
  category: "分類",
  type: "型",
  decimals: "小数桁",
  unit: "単位",
  range: "下限",
  terms: "選択肢",
  termCodes: "選択肢コード",
  maxBytes: "最大バイト",
  multiple: "複数可",
  jlac10: "JLAC10",
  requiredFor: "必須区分",
  note: "備考",
};

function quoteCell(text: string): string {
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function importError(row: number, column: string | undefined, what: string, cause?: unknown): FormatError {
  const where = column === undefined ? `${row} 行目` : `${row} 行目「${column}」`;
  return new FormatError(
    "FORMAT_DICTIONARY_IMPORT_INVALID",
    `項目表を取り込めません (${where}): ${what}`,
    column === undefined ? { row } : { row, column },
    cause === undefined ? undefined : { cause },
  );
}
