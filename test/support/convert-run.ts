/** Runs the real conversion engine over in-memory input, for unit tests of mapping semantics. */
import { DEFAULT_DICTIONARY_PATH, loadDictionary, type Dictionary } from "../../src/format/dictionary.js";
import type { OutputEncoding } from "../../src/format/output-encoding.js";
import { convert, type ConvertSummary } from "../../src/convert/engine.js";
import { parseMapping } from "../../src/convert/mapping.js";
import { checkMapping, type CheckedMapping } from "../../src/convert/mapping-check.js";
import { DEFAULT_THESAURUS_PATH, loadThesaurus, type Thesaurus } from "../../src/convert/thesaurus.js";
import iconv from "iconv-lite";

export interface Reference {
  dictionary: Dictionary;
  thesaurus: Thesaurus;
}

export async function loadReference(): Promise<Reference> {
  const [dictionary, thesaurus] = await Promise.all([
    loadDictionary(DEFAULT_DICTIONARY_PATH),
    loadThesaurus(DEFAULT_THESAURUS_PATH),
  ]);
  return { dictionary, thesaurus };
}

export function checkYaml(ref: Reference, yaml: string): CheckedMapping {
  return checkMapping(parseMapping(yaml), ref.dictionary, ref.thesaurus);
}

export interface RunResult {
  summary: ConvertSummary;
  output: Buffer;
  /** Output records as objects keyed by header cell. */
  rows: Record<string, string>[];
}

export async function runConvert(
  input: Uint8Array | string,
  checked: CheckedMapping,
  encoding: OutputEncoding = "utf-8",
): Promise<RunResult> {
  const bytes = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  const parts: Uint8Array[] = [];
  const summary = await convert([bytes], { write: (c) => void parts.push(c) }, { checked, encoding });
  const output = Buffer.concat(parts);
  const text = encoding === "utf-8" ? output.toString("utf8") : iconv.decode(output, "cp932");
  const [header = [], ...records] = parseCsv(text);
  const rows = records.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ""])));
  return { summary, output, rows };
}

/** RFC 4180 (quoted fields, CRLF) — enough to read our own output back. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
      i++;
    } else cell += c;
  }
  if (cell !== "" || row.length > 0) rows.push([...row, cell]);
  return rows;
}
