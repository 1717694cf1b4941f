/**
 * `kenshin map check`: validate a mapping (schema, items in the dictionary, columns in a sample) and
 * run it over the sample. `kenshin map suggest`: a commented draft mapping from an export's header and
 * sample. `kenshin map schema`: print the mapping file's JSON Schema.
 */
import type { Command } from "commander";
import { open, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { ConvertError } from "../convert/errors.js";
import { renderDraft } from "../convert/suggest/draft-yaml.js";
import { SAMPLE_BYTES, suggestMapping } from "../convert/suggest/suggest-mapping.js";
import { suggestionReport } from "../convert/suggest/suggestion-report.js";
import { DEFAULT_THESAURUS_PATH, loadThesaurus } from "../convert/thesaurus.js";
import { DEFAULT_DICTIONARY_PATH, loadDictionary } from "../format/dictionary.js";
import { convertFile, prepareMapping } from "../convert/convert-file.js";
import { mappingJsonSchema } from "../convert/mapping-schema.js";
import { SEVERITY_LABEL } from "../convert/report.js";
import { describeReport, needsAttention } from "./convert.js";
import { EXIT_ISSUES, EXIT_OK } from "./exit-codes.js";

interface SuggestFlags {
  out?: string;
  report?: string;
  name?: string;
  dictionary?: string;
  thesaurus?: string;
}

/** The first `limit` bytes of a file (the suggestion never needs more). */
async function readHead(path: string, limit: number): Promise<Uint8Array> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (cause) {
    throw new ConvertError(
      "CONVERT_INPUT_UNREADABLE",
      `入力ファイルを読めません: ${path}`,
      { path },
      { cause },
    );
  }
  try {
    const buffer = Buffer.alloc(limit);
    const { bytesRead } = await handle.read(buffer, 0, limit, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

interface CheckFlags {
  sample?: string;
  dictionary?: string;
  thesaurus?: string;
}

export function registerMapCommands(program: Command): void {
  const map = program.command("map").description("マッピングファイルの確認");
  map
    .command("check")
    .description("マッピングファイルを検証し、サンプルがあれば試しに変換する")
    .argument("<mapping>", "マッピングファイル (YAML または JSON)")
    .option("--sample <csv>", "健診機関の出力ファイルのサンプル")
    .option("--dictionary <file>", "項目辞書 (省略時は同梱の辞書)")
    .option("--thesaurus <file>", "所見シソーラス (省略時は同梱のもの)")
    .action(async (mappingPath: string, flags: CheckFlags) => {
      const prepared = await prepareMapping({
        mappingPath,
        dictionaryPath: flags.dictionary,
        thesaurusPath: flags.thesaurus,
      });
      const m = prepared.checked.mapping;
      process.stdout.write(
        `マッピング「${m.name}」は有効です (${m.layout === "wide" ? "横持ち" : "縦持ち"}, 項目 ${prepared.checked.fields.length + (prepared.checked.long?.items.size ?? 0)} 件, 辞書 ${prepared.dictionary.name} ${prepared.dictionary.version})\n`,
      );
      if (flags.sample === undefined) {
        process.exitCode = EXIT_OK;
        return;
      }
      const { report } = await convertFile({ inputPath: flags.sample, prepared, encoding: "utf-8" });
      process.stdout.write(describeReport(report));
      for (const issue of report.issues.slice(0, 20)) {
        process.stdout.write(
          `  ${SEVERITY_LABEL[issue.severity]} ${issue.row}行 ${issue.column ?? ""} ${issue.code}: ${issue.message}\n`,
        );
      }
      process.exitCode = needsAttention(report) ? EXIT_ISSUES : EXIT_OK;
    });
  map
    .command("suggest")
    .description("出力ファイルの見出しと見本からマッピングの下書きを作る")
    .argument("<export>", "健診機関のシステムが出力した CSV")
    .option("--out <draft.yaml>", "下書きを書くファイル (省略時は標準出力)")
    .option("--name <name>", "マッピングの名前")
    .option("--report <suggestion.json>", "項目ごとの信頼度と対応付けられなかった値 (JSON)")
    .option("--dictionary <file>", "項目辞書 (省略時は同梱の辞書)")
    .option("--thesaurus <file>", "所見シソーラス (省略時は同梱のもの)")
    .action(async (exportPath: string, flags: SuggestFlags) => {
      const [dictionary, thesaurus, head] = await Promise.all([
        loadDictionary(flags.dictionary ?? DEFAULT_DICTIONARY_PATH),
        loadThesaurus(flags.thesaurus ?? DEFAULT_THESAURUS_PATH),
        readHead(exportPath, SAMPLE_BYTES),
      ]);
      const suggestion = suggestMapping(head, dictionary, thesaurus);
      const draft = renderDraft(suggestion, {
        name: flags.name ?? `${basename(exportPath)} の下書き`,
        sourceName: basename(exportPath),
      });
      if (flags.out === undefined) process.stdout.write(draft);
      else await writeFile(flags.out, draft, { mode: 0o600 });
      if (flags.report !== undefined) {
        await writeFile(flags.report, `${JSON.stringify(suggestionReport(suggestion), null, 2)}\n`, {
          mode: 0o600,
        });
      }
      const items = [...suggestion.fields, ...(suggestion.long?.items ?? [])];
      const placed = items.filter((f) => f.item);
      const unsure = placed.filter((f) => f.confidence < 0.8).length;
      const unplacedValues = placed.reduce((n, f) => n + (f.codes?.unplaced.length ?? 0), 0);
      process.stderr.write(
        `下書き: 対応付け ${placed.length} 件 (要確認 ${unsure} 件), 対応付けなしの列 ${suggestion.unplacedColumns.length} 件${
          suggestion.long ? `, 項目なしの検査コード ${items.length - placed.length} 件` : ""
        }, 対応付けられなかったコード値 ${unplacedValues} 件\n`,
      );
      process.exitCode = EXIT_OK;
    });
  map
    .command("schema")
    .description("マッピングファイルの JSON Schema を出力する")
    .action(() => {
      process.stdout.write(`${JSON.stringify(mappingJsonSchema(), null, 2)}\n`);
    });
}
