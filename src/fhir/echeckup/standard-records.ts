/**
 * Reads a standard CSV (ours, as the engine writes it, UTF-8) back into records keyed by dictionary
 * item, for the FHIR output. The header must be exactly the dictionary's (a file from another
 * dictionary is refused); the optional JLAC10 code header row is skipped.
 */
import { CsvTokenizer } from "../../convert/csv-tokenizer.js";
import type { Dictionary, DictionaryItem } from "../../format/dictionary.js";
import { CODE_HEADER_LABEL, headerCells } from "../../format/standard-csv.js";
import { EcheckupError } from "./echeckup-errors.js";

export interface StandardRecordView {
  /** 1-based record number in the file. */
  readonly index: number;
  value(key: string): string;
  /** Items with a non-empty value, in dictionary order. */
  readonly filled: readonly DictionaryItem[];
}

export function readStandardRecords(bytes: Uint8Array, dictionary: Dictionary): StandardRecordView[] {
  const rows: string[][] = [];
  const tokenizer = new CsvTokenizer(
    { delimiter: ",", quote: '"', maxFieldLength: 64 * 1024, maxColumns: 100_000 },
    {
      row: (r) => rows.push([...r.fields]),
      problem: (p) => {
        throw new EcheckupError(
          "ECHECKUP_INPUT_INVALID",
          `標準フォーマットの CSV を読めません (${p.line}行目)`,
          {
            line: p.line,
          },
        );
      },
    },
  );
  tokenizer.feed(new TextDecoder("utf-8", { fatal: false }).decode(bytes));
  tokenizer.end();
  const expected = headerCells(dictionary);
  const header = rows[0] ?? [];
  if (header.length !== expected.length || header.some((h, i) => h !== expected[i])) {
    throw new EcheckupError(
      "ECHECKUP_INPUT_INVALID",
      `見出し行が辞書 (${dictionary.name} ${dictionary.version}) の標準フォーマットと一致しません`,
      {},
    );
  }
  const data = rows.slice(rows[1]?.[0] === CODE_HEADER_LABEL ? 2 : 1);
  const items = dictionary.items;
  return data.map((cells, r) => {
    const at = (i: number): string => cells[2 * i] ?? "";
    return {
      index: r + 1,
      value: (key) => at(dictionary.indexOf(key)),
      filled: items.filter((_, i) => at(i) !== ""),
    };
  });
}
