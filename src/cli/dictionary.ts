/**
 * `kenshin dictionary import`: a plain CSV table of items (e.g. a licensee's official record layout) →
 * a dictionary JSON file the engine loads. `kenshin dictionary export`: a dictionary → such a table.
 */
import type { Command } from "commander";
import { Option } from "commander";
import { readFile, writeFile } from "node:fs/promises";
import { basename, extname } from "node:path";
import { fileURLToPath } from "node:url";
import iconv from "iconv-lite";
import { ConvertError } from "../convert/errors.js";
import { DEFAULT_DICTIONARY_PATH, loadDictionary } from "../format/dictionary.js";
import { exportDictionaryTable, importDictionaryTable } from "../format/dictionary-import.js";
import { FormatError } from "../format/errors.js";
import { EXIT_OK } from "./exit-codes.js";

interface ImportFlags {
  out: string;
  name?: string;
  dictionaryVersion: string;
  encoding: "auto" | "utf-8" | "cp932";
}

interface ExportFlags {
  out: string;
  dictionary?: string;
  encoding: "utf-8" | "cp932";
}

export function registerDictionaryCommands(program: Command): void {
  const dictionary = program.command("dictionary").description("項目辞書の取り込み・書き出し");
  dictionary
    .command("import")
    .description("項目表 (CSV) から項目辞書 (JSON) を作る")
    .argument(
      "<table.csv>",
      "項目表: 項番,キー,標準名称,分類,型,小数桁,単位,下限,上限,選択肢,最大バイト,複数可,JLAC10,必須区分,備考",
    )
    .requiredOption("--out <dictionary.json>", "書き出す項目辞書")
    .option("--name <name>", "辞書の名前 (省略時は項目表のファイル名)")
    // Not `--version`: the program's own --version would take it wherever it appears on the line.
    .option("--dictionary-version <version>", "辞書の版 (semver)", "1.0.0")
    .addOption(
      new Option("--encoding <encoding>", "項目表の文字コード")
        .choices(["auto", "utf-8", "cp932"])
        .default("auto"),
    )
    .action(async (tablePath: string, flags: ImportFlags) => {
      const bytes = await readInput(tablePath);
      const file = importDictionaryTable(bytes, {
        name: flags.name ?? basename(tablePath, extname(tablePath)),
        version: flags.dictionaryVersion,
        encoding: flags.encoding,
      });
      await writeOutput(flags.out, `${JSON.stringify(file, null, 2)}\n`);
      process.stderr.write(
        `項目辞書「${file.name}」${file.version} (${file.items.length} 項目) を書き出しました: ${flags.out}\n`,
      );
      process.exitCode = EXIT_OK;
    });
  dictionary
    .command("export")
    .description("項目辞書を項目表 (CSV) として書き出す")
    .requiredOption("--out <table.csv>", "書き出す項目表")
    .option("--dictionary <file>", "項目辞書 (省略時は同梱の辞書)")
    .addOption(
      new Option("--encoding <encoding>", "項目表の文字コード").choices(["utf-8", "cp932"]).default("utf-8"),
    )
    .action(async (flags: ExportFlags) => {
      const loaded = await loadDictionary(flags.dictionary ?? fileURLToPath(DEFAULT_DICTIONARY_PATH));
      const table = exportDictionaryTable(loaded);
      await writeOutput(flags.out, flags.encoding === "cp932" ? toCp932(table) : table);
      process.stderr.write(`項目表 (${loaded.items.length} 項目) を書き出しました: ${flags.out}\n`);
      process.exitCode = EXIT_OK;
    });
}

async function readInput(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new FormatError("FORMAT_DICTIONARY_UNREADABLE", `項目表を読めません: ${path}`, { path }, { cause });
  }
}

async function writeOutput(path: string, data: string | Buffer): Promise<void> {
  try {
    await writeFile(path, data);
  } catch (cause) {
    throw new ConvertError("CONVERT_OUTPUT_UNWRITABLE", `書き出せません: ${path}`, { path }, { cause });
  }
}

/** CP932 bytes of the table; refuses rather than writing 「?」 for a character CP932 lacks. */
function toCp932(text: string): Buffer {
  const bytes = iconv.encode(text, "cp932");
  if (iconv.decode(bytes, "cp932") !== text) {
    throw new FormatError(
      "FORMAT_ENCODING_UNSUPPORTED",
      "CP932 で表せない文字が辞書にあります (--encoding utf-8 で書き出してください)",
      { encoding: "cp932" },
    );
  }
  return bytes;
}
